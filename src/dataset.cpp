#include "tl/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "tl/errors.h"
#include "tl/image.h"
#include "tl/text_width.h"

namespace tl {

namespace fs = std::filesystem;

namespace {

const char* const kLayoutHelp =
    "food11 expects training/ and validation/ (optionally evaluation/) holding <label>_<n>.jpg files or one "
    "folder per class; fruits360 expects Training/ and Test/ with one folder per class; folder expects "
    "train/ (optionally val/ and test/) with one folder per class, or one folder per class directly; "
    "caltech101 expects one folder per class";

const std::vector<std::string> kFood11Names = {"Bread",      "Dairy product", "Dessert",        "Egg",
                                               "Fried food", "Meat",          "Noodles/Pasta",  "Rice",
                                               "Seafood",    "Soup",          "Vegetable/Fruit"};

// Folder names that mark a split; a root holding some of them but no complete layout is not a class tree.
const std::set<std::string> kSplitFolderNames = {"training", "validation", "evaluation", "Training", "Test",
                                                 "train",    "val",        "valid",      "test",     "testing"};

enum SplitId { kTrain = 0, kVal = 1, kTest = 2 };
const char* const kSplitNames[] = {"train", "val", "test"};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// FNV-1a: a portable string hash, so each class gets its own split seed (excluding one class does
// not reshuffle the others).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

std::string quoted_list(const std::vector<std::string>& items, size_t most = 10) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < most; ++i) out += (out.empty() ? "'" : ", '") + printable(items[i]) + "'";
  if (items.size() > most) out += " and " + std::to_string(items.size() - most) + " more";
  return out.empty() ? "(none)" : out;
}

bool dir_exists(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// Non-hidden entries of `dir`, sorted by name. An unreadable directory is a DataError naming it.
std::vector<fs::directory_entry> list_dir(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!is_hidden(it->path())) entries.push_back(*it);
  if (ec)
    throw DataError("cannot read directory '" + printable(dir.string()) + "': " + ec.message() +
                    "; check its permissions");
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path().string() < b.path().string(); });
  return entries;
}

bool is_dir(const fs::directory_entry& entry) {
  std::error_code ec;
  return entry.is_directory(ec);  // follows symlinks; a broken link is not a directory
}

std::vector<std::string> subdir_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : list_dir(dir))
    if (is_dir(entry)) names.push_back(entry.path().filename().string());
  return names;
}

fs::path canonical_or_self(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  return ec ? p : c;
}

bool is_inside(const fs::path& path, const fs::path& dir) {
  const std::string p = path.string(), d = dir.string();
  return p == d || (p.size() > d.size() && p.compare(0, d.size(), d) == 0 && p[d.size()] == '/');
}

// Walks folders for image files. Directory links are followed unless they lead back to a folder
// on the current path (a loop: e.g. `cls A/loop -> ..`, which would pull every class into cls A);
// files reached twice are found later by their identity. Links out of data.root are followed and
// counted.
class Walker {
 public:
  Walker(const fs::path& root, ScanReport& report) : root_(canonical_or_self(root)), report_(report) {}

  // Image files under `dir` (the chain of folders from the root down to it is `dir`'s ancestry).
  std::vector<std::string> images_under(const fs::path& dir) {
    std::vector<fs::path> ancestry;
    for (fs::path p = canonical_or_self(dir); is_inside(p, root_) && p != p.parent_path(); p = p.parent_path()) {
      ancestry.push_back(p);
      if (p == root_) break;
    }
    std::vector<std::string> files;
    walk(dir, ancestry, files);
    std::sort(files.begin(), files.end());
    return files;
  }

 private:
  void walk(const fs::path& dir, std::vector<fs::path>& ancestry, std::vector<std::string>& out) {
    for (const auto& entry : list_dir(dir)) {
      if (!is_dir(entry)) {
        if (has_image_extension(entry.path().string())) out.push_back(entry.path().string());
        continue;
      }
      const fs::path target = canonical_or_self(entry.path());
      if (std::find(ancestry.begin(), ancestry.end(), target) != ancestry.end()) {
        report_.refused_links.push_back(entry.path().string());
        spdlog::warn("not following '{}': it leads back to '{}' (a loop that would mix classes)",
                     printable(entry.path().string()), printable(target.string()));
        continue;
      }
      if (!is_inside(target, root_)) ++report_.links_out_of_root;
      ancestry.push_back(target);
      walk(entry.path(), ancestry, out);
      ancestry.pop_back();
    }
  }

  fs::path root_;
  ScanReport& report_;
};

// A file found by the listing, before it is probed.
struct Found {
  std::string path;
  int64_t label = 0;
  int split = kTrain;  // the folder it was found in
};

// What a layout's listing produced: the classes, every file found, and which splits the tool
// still has to carve out of train (fractions of each class's training files).
struct Listing {
  std::vector<std::string> classes;
  std::vector<Found> files;
  double carve_val = 0, carve_test = 0;
  bool val_is_test = false;  // fruits360 with val_from "test"
};

void check_root(const std::string& root) {
  if (root.empty()) throw DataError("data.root is not set; set data.root to your dataset folder");
  std::error_code ec;
  if (fs::is_directory(root, ec)) return;
  if (fs::exists(root, ec))
    throw DataError("data.root '" + printable(root) + "' is not a directory; set data.root to your dataset folder");
  throw DataError("data.root '" + printable(root) + "' does not exist; set data.root to your dataset folder");
}

std::optional<fs::path> first_existing_dir(const fs::path& root, const std::vector<std::string>& names) {
  for (const auto& name : names)
    if (dir_exists(root / name)) return root / name;
  return std::nullopt;
}

// The union of the class folders in `dirs`, minus data.exclude, sorted; data.class_names (when
// given) must be the same set.
std::vector<std::string> discover_classes(const std::vector<fs::path>& dirs, const DataConfig& data) {
  std::set<std::string> found;
  for (const auto& dir : dirs)
    for (auto& name : subdir_names(dir))
      if (std::find(data.exclude.begin(), data.exclude.end(), name) == data.exclude.end()) found.insert(name);
  std::vector<std::string> classes(found.begin(), found.end());  // std::set sorts by byte string
  if (classes.empty())
    throw DataError("no class folders found in '" + printable(dirs.front().string()) + "'; " + kLayoutHelp);
  if (!data.class_names.empty()) {
    std::vector<std::string> given = data.class_names;
    std::sort(given.begin(), given.end());
    if (given != classes)
      throw DataError("data.class_names " + quoted_list(data.class_names) + " differ from the class folders found " +
                      quoted_list(classes) + "; fix data.class_names or leave it empty");
  }
  return classes;
}

// Adds the image files of <dir>/<class>/ for every class (label order) to the listing as `split`.
void list_class_folders(const fs::path& dir, int split, Walker& walker, Listing& listing) {
  for (size_t label = 0; label < listing.classes.size(); ++label) {
    const fs::path folder = dir / listing.classes[label];
    if (!dir_exists(folder)) continue;
    const auto files = walker.images_under(folder);
    if (files.empty())
      throw DataError("class folder '" + printable(folder.string()) +
                      "' holds no image files (jpg, jpeg, png, bmp, webp, tif, tiff); add images, remove it or add '" +
                      printable(listing.classes[label]) + "' to data.exclude");
    for (const auto& f : files) listing.files.push_back({f, int64_t(label), split});
  }
}

// Split folders each holding one folder per class; splits without a folder are carved from train.
Listing list_split_tree(const fs::path& train, const std::optional<fs::path>& val, const std::optional<fs::path>& test,
                        const DataConfig& data, Walker& walker) {
  std::vector<fs::path> dirs = {train};
  if (val) dirs.push_back(*val);
  if (test) dirs.push_back(*test);
  Listing listing;
  listing.classes = discover_classes(dirs, data);
  list_class_folders(train, kTrain, walker, listing);
  if (val) list_class_folders(*val, kVal, walker, listing);
  if (test) list_class_folders(*test, kTest, walker, listing);
  return listing;
}

// "<label>_<n>.<ext>" -> label; nullopt when the name does not start with digits and '_'.
std::optional<int64_t> food11_label(const fs::path& file) {
  const std::string stem = file.stem().string();
  size_t digits = 0;
  while (digits < stem.size() && std::isdigit(static_cast<unsigned char>(stem[digits]))) ++digits;
  if (digits == 0 || digits > 9 || digits >= stem.size() || stem[digits] != '_') return std::nullopt;
  return std::stoll(stem.substr(0, digits));
}

std::vector<std::string> read_class_list(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw DataError("cannot read '" + printable(path.string()) + "'; check its permissions");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  return names;
}

bool has_flat_food11_files(const fs::path& dir) {
  for (const auto& entry : list_dir(dir))
    if (!is_dir(entry) && has_image_extension(entry.path().string()) && food11_label(entry.path())) return true;
  return false;
}

// Food-11 with flat "<label>_<n>.jpg" files in each split folder. Class names: data.class_names,
// else classes.txt beside the splits, else the Food-11 names for 11 classes, else the label numbers.
// data.exclude does not apply: dropping a label would renumber the others.
Listing list_food11_flat(const fs::path& root, const DataConfig& data, ScanReport& report) {
  Listing listing;
  int64_t max_label = -1;
  const std::pair<const char*, int> splits[] = {{"training", kTrain}, {"validation", kVal}, {"evaluation", kTest}};
  for (const auto& [dir, split] : splits) {
    if (!dir_exists(root / dir)) continue;
    std::vector<std::string> ignored_folders;
    for (const auto& entry : list_dir(root / dir)) {
      if (is_dir(entry)) {
        ignored_folders.push_back(entry.path().string());
        continue;
      }
      if (!has_image_extension(entry.path().string())) continue;
      const auto label = food11_label(entry.path());
      if (!label) {
        spdlog::warn("skipping '{}': the name is not <label>_<n>.<ext> as food11 expects",
                     printable(entry.path().string()));
        continue;
      }
      listing.files.push_back({entry.path().string(), *label, split});
      max_label = std::max(max_label, *label);
    }
    if (!ignored_folders.empty())
      report.notes.push_back("food11: ignored " + std::to_string(ignored_folders.size()) +
                             " sub-folder(s) beside the flat " + "<label>_<n> files in " +
                             printable((root / dir).string()) + ": " + quoted_list(ignored_folders, 3));
  }
  std::string names_source = "data.class_names";
  listing.classes = data.class_names;
  if (listing.classes.empty() && fs::is_regular_file(root / "classes.txt")) {
    names_source = (root / "classes.txt").string();
    listing.classes = read_class_list(root / "classes.txt");
  }
  if (listing.classes.empty()) {
    if (max_label + 1 == int64_t(kFood11Names.size()))
      listing.classes = kFood11Names;
    else
      for (int64_t label = 0; label <= max_label; ++label) listing.classes.push_back(std::to_string(label));
  } else if (max_label >= int64_t(listing.classes.size())) {
    throw DataError("food11 files in '" + printable(root.string()) + "' use label " + std::to_string(max_label) +
                    " but " + printable(names_source) + " names only " + std::to_string(listing.classes.size()) +
                    " classes; give one name per label");
  }
  return listing;
}

// Flat <label>_<n> files win: a stray sub-folder (a NAS's @eaDir, say) must not turn a flat
// Food-11 tree into a one-class folder tree.
Listing list_food11(const fs::path& root, const DataConfig& data, Walker& walker, ScanReport& report) {
  if (!dir_exists(root / "training") || !dir_exists(root / "validation"))
    throw DataError("data.root '" + printable(root.string()) + "' is not a food11 tree: " + kLayoutHelp);
  const auto test = first_existing_dir(root, {"evaluation"});
  if (!test) spdlog::warn("no evaluation/ folder in '{}': the test split is empty", printable(root.string()));
  if (has_flat_food11_files(root / "training") || subdir_names(root / "training").empty()) {
    report.notes.push_back("food11: flat <label>_<n> files");
    return list_food11_flat(root, data, report);
  }
  report.notes.push_back("food11: one folder per class in training/ and validation/");
  return list_split_tree(root / "training", root / "validation", test, data, walker);
}

Listing list_fruits360(const fs::path& root, const DataConfig& data, Walker& walker) {
  if (!dir_exists(root / "Training") || !dir_exists(root / "Test"))
    throw DataError("data.root '" + printable(root.string()) + "' is not a fruits360 tree: " + kLayoutHelp);
  Listing listing = list_split_tree(root / "Training", std::nullopt, root / "Test", data, walker);
  if (data.val_from == ValFrom::Train)
    listing.carve_val = data.val_fraction;
  else
    listing.val_is_test = true;
  return listing;
}

std::string fraction_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// One folder per class under the root, split by data.split.
Listing list_class_root(const fs::path& root, const DataConfig& data, Walker& walker) {
  Listing listing;
  listing.classes = discover_classes({root}, data);
  list_class_folders(root, kTrain, walker, listing);
  listing.carve_val = data.split[1];
  listing.carve_test = data.split[2];
  return listing;
}

// One folder per class under the root, or train/ [val/] [test/] with the missing splits carved
// from train: val by data.val_fraction, test by data.split's test fraction.
Listing list_folder(const fs::path& root, const DataConfig& data, Walker& walker, ScanReport& report) {
  const auto train = first_existing_dir(root, {"train"});
  if (!train) return list_class_root(root, data, walker);
  const auto val = first_existing_dir(root, {"val", "validation", "valid"});
  const auto test = first_existing_dir(root, {"test", "testing"});
  Listing listing = list_split_tree(*train, val, test, data, walker);
  if (!val) {
    listing.carve_val = data.val_fraction;
    report.notes.push_back("no val/ folder: validation carved from train (data.val_fraction " +
                           fraction_text(data.val_fraction) + ")");
  }
  if (!test) {
    listing.carve_test = data.split[2];
    report.notes.push_back("no test/ folder: test carved from train (data.split's test fraction " +
                           fraction_text(data.split[2]) + ")");
  }
  return listing;
}

// ---- probing ----

struct Probed {
  std::string reason;  // "" when usable
  ProbeResult info;
};

// Probes and hashes every file in parallel: the work is mostly waiting on the disk, so more threads
// than cores help.
std::vector<Probed> probe_all(const std::vector<Found>& files, int64_t max_pixels) {
  constexpr size_t kChunk = 32;
  constexpr size_t kMaxThreads = 8;
  std::vector<Probed> out(files.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t begin; (begin = next.fetch_add(kChunk)) < files.size();) {
      for (size_t i = begin; i < std::min(begin + kChunk, files.size()); ++i) {
        try {
          out[i].info = probe_image(files[i].path, max_pixels, /*hash=*/true);
        } catch (const std::exception& e) {  // never let a thread terminate the process
          out[i].reason = e.what();
        }
      }
    }
  };
  const size_t chunks = (files.size() + kChunk - 1) / kChunk;
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(kMaxThreads, chunks); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return out;
}

// ---- from probed files to splits ----

struct Usable {
  Found file;
  ProbeResult info;
  bool dropped = false;
};

// Removes unusable files (or fails on the first with on_bad_image "fail"), recording them.
std::vector<Usable> keep_usable(const Listing& listing, const std::vector<Probed>& probed, const DataConfig& data,
                                ScanReport& report) {
  std::vector<Usable> usable;
  for (size_t i = 0; i < listing.files.size(); ++i) {
    const Found& f = listing.files[i];
    if (probed[i].reason.empty()) {
      usable.push_back({f, probed[i].info});
      continue;
    }
    if (data.on_bad_image == BadImagePolicy::Fail)
      throw DataError("cannot use image '" + printable(f.path) + "': " + probed[i].reason +
                      "; set data.on_bad_image to \"skip\" to skip such files");
    spdlog::warn("skipping '{}': {}", printable(f.path), probed[i].reason);
    report.skipped.push_back({f.path, kSplitNames[f.split], probed[i].reason});
  }
  return usable;
}

std::string class_of(const Listing& listing, const Usable& u) { return listing.classes.at(size_t(u.file.label)); }

// Files that are one file (links, hard links) or one content under two labels are conflicts; one
// file reached twice under the same label is kept once.
void resolve_conflicts(std::vector<Usable>& files, const Listing& listing, const DataConfig& data, ScanReport& report) {
  std::map<std::pair<uint64_t, uint64_t>, size_t> by_identity;
  std::map<std::string, size_t> by_hash;
  std::set<size_t> conflicted;
  int64_t reached_twice = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    auto [it, fresh] = by_identity.emplace(std::pair{files[i].info.device, files[i].info.inode}, i);
    const bool same_file = !fresh;
    size_t first = it->second;
    if (fresh) {
      auto [h, fresh_hash] = by_hash.emplace(files[i].info.hash, i);
      if (fresh_hash) continue;
      first = h->second;
    }
    if (files[first].file.label == files[i].file.label) {
      if (same_file && files[first].file.split == files[i].file.split) files[i].dropped = true, ++reached_twice;
      continue;  // same content, same class: a duplicate, handled with the splits
    }
    report.conflicts.push_back({files[first].file.path, class_of(listing, files[first]), files[i].file.path,
                                class_of(listing, files[i]), same_file});
    conflicted.insert(first);
    conflicted.insert(i);
  }
  if (reached_twice)
    report.notes.push_back(std::to_string(reached_twice) +
                           " file(s) reached twice through links in one class, used once");
  if (report.conflicts.empty()) return;
  const LabelConflict& c = report.conflicts.front();
  const std::string first = "'" + printable(c.first_path) + "' (" + printable(c.first_class) + ") and '" +
                            printable(c.second_path) + "' (" + printable(c.second_class) + ") are " +
                            (c.same_file ? "the same file" : "identical images");
  if (data.on_conflict == ConflictPolicy::Fail)
    throw DataError(std::to_string(report.conflicts.size()) + " file(s) carry two labels; first: " + first +
                    "; fix the dataset, or set data.on_conflict to \"skip\" to drop every copy");
  // The conflicted set also holds same-class copies of a conflicted content: drop all of them.
  std::set<std::string> hashes;
  for (size_t i : conflicted) hashes.insert(files[i].info.hash);
  for (auto& f : files)
    if (hashes.count(f.info.hash) && !f.dropped) f.dropped = true, ++report.dropped_conflicts;
  spdlog::warn("{} file(s) carry two labels (first: {}); data.on_conflict \"skip\" dropped {} file(s)",
               report.conflicts.size(), first, report.dropped_conflicts);
}

// Splits one class's units (groups of identical files, in file order): a seeded permutation sends
// units to test until it holds round(n * test) files, then to val, the rest to train, always
// leaving train something. Without duplicates this is the per-file split tl-train always made.
void carve_class(const std::vector<std::vector<size_t>>& units, size_t n, uint64_t seed, double val, double test,
                 std::vector<Usable>& files) {
  const int64_t n_val = std::min<int64_t>(std::llround(double(n) * val), int64_t(n) - 1);
  const int64_t n_test = std::min<int64_t>(std::llround(double(n) * test), int64_t(n) - 1 - n_val);
  const std::vector<int64_t> perm = seeded_permutation(int64_t(units.size()), seed);
  int64_t in_test = 0, in_val = 0;
  int last_carved = -1;
  for (int64_t k = 0; k < int64_t(perm.size()); ++k) {
    const auto& unit = units[size_t(perm[size_t(k)])];
    int split = kTrain;
    if (in_test < n_test)
      split = kTest, in_test += int64_t(unit.size());
    else if (in_val < n_val)
      split = kVal, in_val += int64_t(unit.size());
    if (split != kTrain) last_carved = int(perm[size_t(k)]);
    for (size_t i : unit) files[i].file.split = split;
  }
  const bool train_left =
      std::any_of(units.begin(), units.end(), [&](const auto& u) { return files[u[0]].file.split == kTrain; });
  if (!train_left && last_carved >= 0)
    for (size_t i : units[size_t(last_carved)]) files[i].file.split = kTrain;
}

// Carves val/test out of each class's training files, keeping identical files together.
void carve_splits(std::vector<Usable>& files, const Listing& listing, const DataConfig& data) {
  if (listing.carve_val <= 0 && listing.carve_test <= 0) return;
  for (size_t label = 0; label < listing.classes.size(); ++label) {
    std::vector<std::vector<size_t>> units;
    std::map<std::string, size_t> unit_of_hash;
    size_t n = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i].dropped || files[i].file.label != int64_t(label) || files[i].file.split != kTrain) continue;
      auto [it, fresh] = unit_of_hash.emplace(files[i].info.hash, units.size());
      if (fresh) units.emplace_back();
      units[it->second].push_back(i);
      ++n;
    }
    if (n == 0) continue;
    carve_class(units, n, data.seed ^ fnv1a(listing.classes[label]), listing.carve_val, listing.carve_test, files);
  }
}

// Identical content in the given (not carved) splits: leakage, by data.duplicates.
void handle_leakage(std::vector<Usable>& files, const DataConfig& data, ScanReport& report) {
  std::map<std::string, int> earliest;
  for (const auto& f : files)
    if (!f.dropped) {
      auto [it, fresh] = earliest.emplace(f.info.hash, f.file.split);
      if (!fresh) it->second = std::min(it->second, f.file.split);
    }
  std::vector<std::string> examples;
  for (auto& f : files) {
    if (f.dropped || f.file.split == earliest[f.info.hash]) continue;
    ++report.leaked;
    if (examples.size() < 3) examples.push_back(f.file.path);
    if (data.duplicates == DuplicatePolicy::Drop) f.dropped = true, ++report.dropped_duplicates;
  }
  if (report.leaked == 0) return;
  const std::string what = std::to_string(report.leaked) +
                           " file(s) in val/test have an identical copy in an earlier split " +
                           "(leakage inflates the scores), e.g. " + quoted_list(examples, 3);
  if (data.duplicates == DuplicatePolicy::Fail)
    throw DataError(what +
                    "; remove the copies, or set data.duplicates to \"drop\" (keeps the earlier copy) or \"warn\"");
  if (data.duplicates == DuplicatePolicy::Drop)
    spdlog::warn("{}; data.duplicates \"drop\" removed them", what);
  else
    spdlog::warn("{}; set data.duplicates to \"drop\" to remove them", what);
}

void record_duplicates(const std::vector<Usable>& files, ScanReport& report) {
  std::map<std::string, DuplicateGroup> groups;
  for (const auto& f : files) groups[f.info.hash].files.emplace_back(f.file.path, kSplitNames[f.file.split]);
  for (auto& [hash, group] : groups)
    if (group.files.size() > 1) group.hash = hash, report.duplicates.push_back(std::move(group));
}

void note_odd_sizes(const std::vector<Usable>& files, int64_t input_size, ScanReport& report) {
  for (const auto& f : files) {
    const int64_t w = f.info.width, h = f.info.height;
    if (w <= 0 || h <= 0) continue;
    if (input_size > 0 && std::max(w, h) * 4 <= input_size)
      report.odd_sizes.emplace_back(f.file.path, std::to_string(w) + "x" + std::to_string(h) +
                                                     ", much smaller than model.input_size " +
                                                     std::to_string(input_size));
    else if (std::max(w, h) >= 5 * std::min(w, h))
      report.odd_sizes.emplace_back(f.file.path,
                                    std::to_string(w) + "x" + std::to_string(h) + ", extreme aspect ratio");
  }
}

// Every class needs a training image and a classifier needs two classes.
void check_classes(const DatasetIndex& index) {
  if (index.classes.size() < 2)
    throw DataError("the dataset at '" + printable(index.root) + "' has " + std::to_string(index.classes.size()) +
                    " class(es) " + quoted_list(index.classes) + "; a classifier needs at least 2");
  std::vector<bool> has_train(index.classes.size(), false);
  for (const auto& s : index.train) has_train[size_t(s.label)] = true;
  std::vector<std::string> missing;
  for (size_t c = 0; c < has_train.size(); ++c)
    if (!has_train[c]) missing.push_back(index.classes[c]);
  if (!missing.empty())
    throw DataError(std::to_string(missing.size()) + " class(es) have no usable training image: " +
                    quoted_list(missing) + "; add images to their training folders or add them to data.exclude");
}

void check_split_usable(const std::vector<Usable>& files, const ScanReport& report, int split,
                        const std::string& root) {
  const bool any_usable =
      std::any_of(files.begin(), files.end(), [&](const Usable& f) { return f.file.split == split; });
  std::vector<const SkippedFile*> skipped;
  for (const auto& s : report.skipped)
    if (s.split == kSplitNames[split]) skipped.push_back(&s);
  if (!any_usable && !skipped.empty())
    throw DataError("the " + std::string(kSplitNames[split]) + " split of '" + printable(root) +
                    "' has no usable image: all " + std::to_string(skipped.size()) + " files were skipped (first: '" +
                    printable(skipped.front()->path) + "': " + skipped.front()->reason + "); fix or replace the files");
}

}  // namespace

const std::vector<Sample>& DatasetIndex::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  throw DataError("unknown split '" + name + "'; use train, val or test");
}

size_t DatasetIndex::skipped(const std::string& name) const {
  return size_t(std::count_if(report.skipped.begin(), report.skipped.end(),
                              [&](const SkippedFile& s) { return s.split == name; }));
}

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  static const std::set<std::string> kExtensions = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"};
  return kExtensions.count(ext) > 0;
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) perm[size_t(i)] = i;
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[splitmix64(state) % uint64_t(i + 1)]);
  return perm;
}

Layout detect_layout(const std::string& root, Layout requested, std::string* why) {
  check_root(root);
  auto say = [&](const std::string& text) {
    if (why) *why = text;
  };
  if (requested != Layout::Auto) return say("data.layout"), requested;
  const std::vector<std::string> dirs = subdir_names(root);
  auto has = [&](const char* name) { return std::find(dirs.begin(), dirs.end(), name) != dirs.end(); };
  std::vector<Layout> matches;
  if (has("training") && has("validation")) matches.push_back(Layout::Food11);
  if (has("Training") && has("Test")) matches.push_back(Layout::Fruits360);
  if (has("train")) matches.push_back(Layout::Folder);
  if (matches.size() > 1) {
    std::vector<std::string> names;
    for (Layout l : matches) names.push_back(name_of(l));
    throw DataError("cannot tell the layout of data.root '" + printable(root) + "': it matches " + quoted_list(names) +
                    "; set data.layout to one of them (" + kLayoutHelp + ")");
  }
  if (matches.size() == 1) {
    const Layout l = matches.front();
    say(l == Layout::Food11      ? "training/ and validation/ folders"
        : l == Layout::Fruits360 ? "Training/ and Test/ folders"
                                 : "a train/ folder");
    return l;
  }
  std::vector<std::string> split_like;
  for (const auto& d : dirs)
    if (kSplitFolderNames.count(d)) split_like.push_back(d);
  if (dirs.empty() || !split_like.empty())
    throw DataError("cannot recognise the layout of data.root '" + printable(root) + "' (split-like folders: " +
                    quoted_list(split_like) + "); considered food11, fruits360, folder and caltech101: " + kLayoutHelp +
                    "; arrange the folders so or set data.layout");
  fs::path p(root);
  const std::string base = (p.has_filename() ? p : p.parent_path()).filename().string();
  say("one folder per class" + std::string(base == "101_ObjectCategories" ? " named 101_ObjectCategories" : ""));
  return base == "101_ObjectCategories" ? Layout::Caltech101 : Layout::Folder;
}

namespace {

Listing list_layout(Layout layout, const DataConfig& data, ScanReport& report) {
  const fs::path root(data.root);
  Walker walker(root, report);
  switch (layout) {
    case Layout::Food11:
      return list_food11(root, data, walker, report);
    case Layout::Fruits360:
      return list_fruits360(root, data, walker);
    case Layout::Caltech101:
      return list_class_root(root, data, walker);
    case Layout::Folder:
    case Layout::Auto:
      break;
  }
  return list_folder(root, data, walker, report);
}

}  // namespace

std::vector<std::string> list_dataset_files(const DataConfig& data) {
  ScanReport report;
  const Listing listing = list_layout(detect_layout(data.root, data.layout), data, report);
  std::vector<std::string> paths;
  for (const auto& f : listing.files) paths.push_back(f.path);
  return paths;
}

DatasetIndex scan_dataset(const DataConfig& data, int64_t input_size) {
  DatasetIndex index;
  index.root = data.root;
  std::string why;
  index.layout = detect_layout(data.root, data.layout, &why);
  index.report.notes.push_back("layout " + name_of(index.layout) + " (" + why + ")");
  const Listing listing = list_layout(index.layout, data, index.report);
  index.classes = listing.classes;
  if (std::none_of(listing.files.begin(), listing.files.end(), [](const Found& f) { return f.split == kTrain; }))
    throw DataError("no training images found under '" + printable(data.root) + "' (layout " + name_of(index.layout) +
                    "); " + kLayoutHelp);

  std::vector<Usable> files = keep_usable(listing, probe_all(listing.files, data.max_pixels), data, index.report);
  for (int split : {kTrain, kVal, kTest}) check_split_usable(files, index.report, split, data.root);
  resolve_conflicts(files, listing, data, index.report);
  carve_splits(files, listing, data);
  if (listing.carve_val <= 0 || listing.carve_test <= 0) handle_leakage(files, data, index.report);
  record_duplicates(files, index.report);
  note_odd_sizes(files, input_size, index.report);
  std::vector<Sample>* targets[] = {&index.train, &index.val, &index.test};
  for (const auto& f : files)
    if (!f.dropped) targets[f.file.split]->push_back({f.file.path, f.file.label});
  if (listing.val_is_test) index.val = index.test;
  if (!index.report.skipped.empty())
    spdlog::info("skipped unusable images: train {}, val {}, test {}", index.skipped("train"), index.skipped("val"),
                 index.skipped("test"));
  check_classes(index);
  if (index.val.empty()) spdlog::warn("the val split of '{}' is empty", printable(data.root));
  return index;
}

namespace {

// counts[label] = {train, val, test}
std::vector<std::array<size_t, 3>> class_counts(const DatasetIndex& index) {
  std::vector<std::array<size_t, 3>> counts(index.classes.size(), {0, 0, 0});
  const std::vector<const std::vector<Sample>*> splits = {&index.train, &index.val, &index.test};
  for (size_t k = 0; k < splits.size(); ++k)
    for (const auto& s : *splits[k]) ++counts.at(size_t(s.label))[k];
  return counts;
}

}  // namespace

std::string class_count_table(const DatasetIndex& index) {
  const auto counts = class_counts(index);
  std::array<size_t, 3> totals = {index.train.size(), index.val.size(), index.test.size()};
  size_t name_width = 5;
  for (const auto& c : index.classes) name_width = std::max(name_width, display_width(printable(c)));  // as printed
  const int num_width = std::max<int>(5, int(std::to_string(totals[0]).size()));
  std::ostringstream out;
  auto row = [&](const std::string& name, const std::array<std::string, 3>& cells) {
    out << pad_right(printable(name), name_width);
    for (const auto& cell : cells)
      out << " | " << std::string(std::max<int>(0, num_width - int(cell.size())), ' ') << cell;
    out << '\n';
  };
  auto numbers = [](const std::array<size_t, 3>& n) {
    return std::array<std::string, 3>{std::to_string(n[0]), std::to_string(n[1]), std::to_string(n[2])};
  };
  row("class", {"train", "val", "test"});
  out << std::string(name_width + 3 * (size_t(num_width) + 3), '-') << '\n';
  for (size_t label = 0; label < index.classes.size(); ++label) row(index.classes[label], numbers(counts[label]));
  row("total", numbers(totals));
  return out.str();
}

std::vector<std::string> balance_warnings(const DatasetIndex& index) {
  std::vector<std::string> warnings;
  const auto counts = class_counts(index);
  if (counts.empty()) return warnings;
  auto by_train = [](const auto& a, const auto& b) { return a[0] < b[0]; };
  const size_t largest = size_t(std::max_element(counts.begin(), counts.end(), by_train) - counts.begin());
  const size_t smallest = size_t(std::min_element(counts.begin(), counts.end(), by_train) - counts.begin());
  if (counts[smallest][0] > 0 && counts[largest][0] > 10 * counts[smallest][0])
    warnings.push_back("class imbalance: '" + printable(index.classes[largest]) + "' has " +
                       std::to_string(counts[largest][0]) + " training images, '" + printable(index.classes[smallest]) +
                       "' only " + std::to_string(counts[smallest][0]) +
                       " (more than 10x); consider train.class_weights = \"balanced\"");
  std::vector<std::string> tiny;
  for (size_t label = 0; label < counts.size(); ++label)
    if (counts[label][0] < 5) tiny.push_back(index.classes[label]);
  if (!tiny.empty())
    warnings.push_back(std::to_string(tiny.size()) + " class(es) have fewer than 5 training images: " +
                       quoted_list(tiny) + "; collect more images or merge classes");
  return warnings;
}

std::vector<std::string> list_images(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw DataError("'" + printable(path) + "' does not exist; give an image file or a folder of images");
  if (!fs::is_directory(path, ec)) return {path};
  ScanReport report;
  return Walker(path, report).images_under(path);
}

}  // namespace tl
