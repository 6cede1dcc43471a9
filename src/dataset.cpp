#include "tl/dataset.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "tl/errors.h"
#include "tl/image.h"

namespace tl {

namespace fs = std::filesystem;

namespace {

const char* const kLayoutHelp =
    "food11 expects training/ and validation/ (optionally evaluation/) holding <label>_<n>.jpg files or one "
    "folder per class; fruits360 expects Training/ and Test/ with one folder per class; folder expects "
    "train/ (optionally val/ and test/) with one folder per class, or one folder per class directly; "
    "caltech101 expects one folder per class";

const std::vector<std::string> kFood11Names = {"Bread", "Dairy product", "Dessert", "Egg", "Fried food", "Meat",
                                               "Noodles/Pasta", "Rice", "Seafood", "Soup", "Vegetable/Fruit"};

// Folder names that mark a split; a root holding some of them but no complete layout is not a class tree.
const std::set<std::string> kSplitFolderNames = {"training", "validation", "evaluation", "Training", "Test",
                                                 "train",    "val",        "valid",      "test",       "testing"};

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

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "'" : ", '") + item + "'";
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
  if (ec) throw DataError("cannot read directory '" + dir.string() + "': " + ec.message() + "; check its permissions");
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

// Image files under `dir`, recursively. `visited` holds the canonical directories seen, so a
// symlink loop is walked once.
void collect_images(const fs::path& dir, std::set<fs::path>& visited, std::vector<std::string>& out) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(dir, ec);
  if (!ec && !visited.insert(canonical).second) return;
  for (const auto& entry : list_dir(dir)) {
    if (is_dir(entry)) collect_images(entry.path(), visited, out);
    else if (has_image_extension(entry.path().string())) out.push_back(entry.path().string());
  }
}

std::vector<std::string> images_under(const fs::path& dir) {
  std::set<fs::path> visited;
  std::vector<std::string> files;
  collect_images(dir, visited, files);
  std::sort(files.begin(), files.end());
  return files;
}

void check_root(const std::string& root) {
  if (root.empty()) throw DataError("data.root is not set; set data.root to your dataset folder");
  std::error_code ec;
  if (fs::is_directory(root, ec)) return;
  if (fs::exists(root, ec)) throw DataError("data.root '" + root + "' is not a directory; set data.root to your dataset folder");
  throw DataError("data.root '" + root + "' does not exist; set data.root to your dataset folder");
}

Layout parse_layout(const std::string& name) {
  for (Layout l : {Layout::Food11, Layout::Caltech101, Layout::Fruits360, Layout::Folder})
    if (layout_name(l) == name) return l;
  throw DataError("unknown data.layout '" + name + "'; use auto, food11, caltech101, fruits360 or folder");
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
  if (classes.empty()) throw DataError("no class folders found in '" + dirs.front().string() + "'; " + kLayoutHelp);
  if (!data.class_names.empty()) {
    std::vector<std::string> given = data.class_names;
    std::sort(given.begin(), given.end());
    if (given != classes)
      throw DataError("data.class_names " + quoted_list(data.class_names) + " differ from the class folders found " +
                      quoted_list(classes) + "; fix data.class_names or leave it empty");
  }
  return classes;
}

// Per class (label order), the sorted image files in <dir>/<class>/ (none when the folder is absent).
std::vector<std::vector<std::string>> class_files(const fs::path& dir, const std::vector<std::string>& classes) {
  std::vector<std::vector<std::string>> files(classes.size());
  for (size_t label = 0; label < classes.size(); ++label) {
    const fs::path folder = dir / classes[label];
    if (!dir_exists(folder)) continue;
    files[label] = images_under(folder);
    if (files[label].empty())
      throw DataError("class folder '" + folder.string() +
                      "' holds no image files (jpg, jpeg, png, bmp, webp, tif, tiff); add images, remove it or add '" +
                      classes[label] + "' to data.exclude");
  }
  return files;
}

// Adds every class's files (label order) to `split`.
void append_all(const std::vector<std::vector<std::string>>& files, std::vector<Sample>& split) {
  for (size_t label = 0; label < files.size(); ++label)
    for (const auto& f : files[label]) split.push_back({f, int64_t(label)});
}

// Splits one class's sorted files: a seeded permutation sends the first n_test to test and the next
// n_val to val (rounded fractions), always leaving at least one for training. Each split keeps the
// sorted file order. Returns the number of test images.
int64_t split_class(const std::vector<std::string>& files, int64_t label, uint64_t seed, double val, double test,
                    DatasetIndex& index) {
  const int64_t n = static_cast<int64_t>(files.size());
  if (n == 0) return 0;
  const int64_t n_val = std::min<int64_t>(std::llround(n * val), n - 1);
  const int64_t n_test = std::min<int64_t>(std::llround(n * test), n - 1 - n_val);
  const std::vector<int64_t> perm = seeded_permutation(n, seed);
  std::vector<std::vector<Sample>*> target(n, &index.train);
  for (int64_t k = 0; k < n_test + n_val; ++k) target[perm[k]] = k < n_test ? &index.test : &index.val;
  for (int64_t i = 0; i < n; ++i) target[i]->push_back({files[i], label});
  return n_test;
}

// Splits every class by the val/test fractions (seeded per class); warns about classes left without a test image.
void split_classes(const std::vector<std::vector<std::string>>& files, const DataConfig& data, double val, double test,
                   DatasetIndex& index) {
  std::vector<std::string> no_test;
  for (size_t label = 0; label < files.size(); ++label) {
    const uint64_t seed = data.seed ^ fnv1a(index.classes[label]);
    if (split_class(files[label], int64_t(label), seed, val, test, index) == 0 && test > 0)
      no_test.push_back(index.classes[label]);
  }
  if (!no_test.empty())
    spdlog::warn("{} class(es) too small to get a test image: {}", no_test.size(), quoted_list(no_test));
}

// One folder per class directly under the root: split by data.split.
void scan_class_root(const fs::path& root, const DataConfig& data, DatasetIndex& index) {
  index.classes = discover_classes({root}, data);
  split_classes(class_files(root, index.classes), data, data.split[1], data.split[2], index);
}

// Split folders each holding one folder per class. A missing val folder: val is carved from
// train by `carve_val` (0: val stays empty). A missing test folder: an empty test split.
void scan_split_tree(const fs::path& train, const std::optional<fs::path>& val, const std::optional<fs::path>& test,
                     double carve_val, const DataConfig& data, DatasetIndex& index) {
  std::vector<fs::path> dirs = {train};
  if (val) dirs.push_back(*val);
  if (test) dirs.push_back(*test);
  index.classes = discover_classes(dirs, data);
  const auto train_files = class_files(train, index.classes);
  if (val) {
    append_all(train_files, index.train);
    append_all(class_files(*val, index.classes), index.val);
  } else {
    split_classes(train_files, data, carve_val, 0, index);
  }
  if (test) append_all(class_files(*test, index.classes), index.test);
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
  if (!in) throw DataError("cannot read '" + path.string() + "'; check its permissions");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  return names;
}

// Food-11 with flat "<label>_<n>.jpg" files in each split folder. Class names: data.class_names,
// else classes.txt beside the splits, else the Food-11 names for 11 classes, else the label numbers.
// data.exclude does not apply: dropping a label would renumber the others.
void scan_food11_flat(const fs::path& root, const DataConfig& data, DatasetIndex& index) {
  int64_t max_label = -1;
  const std::pair<const char*, std::vector<Sample>*> splits[] = {
      {"training", &index.train}, {"validation", &index.val}, {"evaluation", &index.test}};
  for (const auto& [dir, split] : splits) {
    if (!dir_exists(root / dir)) continue;
    for (const auto& entry : list_dir(root / dir)) {
      if (is_dir(entry) || !has_image_extension(entry.path().string())) continue;
      const auto label = food11_label(entry.path());
      if (!label) {
        spdlog::warn("skipping '{}': the name is not <label>_<n>.<ext> as food11 expects", entry.path().string());
        continue;
      }
      split->push_back({entry.path().string(), *label});
      max_label = std::max(max_label, *label);
    }
  }
  std::string names_source = "data.class_names";
  index.classes = data.class_names;
  if (index.classes.empty() && fs::is_regular_file(root / "classes.txt")) {
    names_source = (root / "classes.txt").string();
    index.classes = read_class_list(root / "classes.txt");
  }
  if (index.classes.empty()) {
    if (max_label + 1 == int64_t(kFood11Names.size())) index.classes = kFood11Names;
    else
      for (int64_t label = 0; label <= max_label; ++label) index.classes.push_back(std::to_string(label));
  } else if (max_label >= int64_t(index.classes.size())) {
    throw DataError("food11 files in '" + root.string() + "' use label " + std::to_string(max_label) + " but " +
                    names_source + " names only " + std::to_string(index.classes.size()) +
                    " classes; give one name per label");
  }
}

void scan_food11(const fs::path& root, const DataConfig& data, DatasetIndex& index) {
  if (!dir_exists(root / "training") || !dir_exists(root / "validation"))
    throw DataError("data.root '" + root.string() + "' is not a food11 tree: " + kLayoutHelp);
  const bool class_folders = !subdir_names(root / "training").empty();
  const auto test = first_existing_dir(root, {"evaluation"});
  if (!test) spdlog::warn("no evaluation/ folder in '{}': the test split is empty", root.string());
  if (class_folders) scan_split_tree(root / "training", root / "validation", test, 0, data, index);
  else scan_food11_flat(root, data, index);
}

void scan_fruits360(const fs::path& root, const DataConfig& data, DatasetIndex& index) {
  if (!dir_exists(root / "Training") || !dir_exists(root / "Test"))
    throw DataError("data.root '" + root.string() + "' is not a fruits360 tree: " + kLayoutHelp);
  // val_from "test": validation is the Test split itself (copied after probing, see scan_dataset).
  const double carve = data.val_from == "train" ? data.val_fraction : 0;
  scan_split_tree(root / "Training", std::nullopt, root / "Test", carve, data, index);
}

void scan_folder(const fs::path& root, const DataConfig& data, DatasetIndex& index) {
  const auto train = first_existing_dir(root, {"train"});
  if (!train) return scan_class_root(root, data, index);
  const auto val = first_existing_dir(root, {"val", "validation", "valid"});
  const auto test = first_existing_dir(root, {"test", "testing"});
  if (!val) spdlog::info("no val/ folder in '{}': validation is carved from train (data.val_fraction {})", root.string(), data.val_fraction);
  if (!test) spdlog::warn("no test/ folder in '{}': the test split is empty", root.string());
  scan_split_tree(*train, val, test, data.val_fraction, data, index);
}

// Probes every file (header only) in parallel: the work is mostly waiting on the disk, so more
// threads than cores help. Returns the reason each file is unusable ("" when usable).
std::vector<std::string> probe_all(const std::vector<const Sample*>& samples, int64_t max_pixels) {
  constexpr size_t kChunk = 64;
  constexpr size_t kMaxThreads = 8;
  std::vector<std::string> reasons(samples.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t begin; (begin = next.fetch_add(kChunk)) < samples.size();) {
      for (size_t i = begin; i < std::min(begin + kChunk, samples.size()); ++i) {
        try {
          probe_image(samples[i]->path, max_pixels);
        } catch (const std::exception& e) {  // never let a thread terminate the process
          reasons[i] = e.what();
        }
      }
    }
  };
  const size_t chunks = (samples.size() + kChunk - 1) / kChunk;
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(kMaxThreads, chunks); ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return reasons;
}

// Removes unusable files from the splits into skipped_* (or throws when on_bad_image is "fail").
void drop_unusable(DatasetIndex& index, const DataConfig& data) {
  const std::vector<std::pair<std::string, std::vector<Sample>*>> splits = {
      {"train", &index.train}, {"val", &index.val}, {"test", &index.test}};
  std::vector<std::vector<std::pair<std::string, std::string>>*> skipped = {&index.skipped_train, &index.skipped_val,
                                                                            &index.skipped_test};
  std::vector<const Sample*> all;
  for (const auto& [name, split] : splits)
    for (const auto& s : *split) all.push_back(&s);
  const std::vector<std::string> reasons = probe_all(all, data.max_pixels);

  size_t i = 0;
  for (size_t k = 0; k < splits.size(); ++k) {
    const auto& [name, split] = splits[k];
    std::vector<Sample> usable;
    for (const auto& sample : *split) {
      const std::string& reason = reasons[i++];
      if (reason.empty()) {
        usable.push_back(sample);
        continue;
      }
      if (data.on_bad_image == "fail")
        throw DataError("cannot use image '" + sample.path + "': " + reason +
                        "; set data.on_bad_image to \"skip\" to skip such files");
      spdlog::warn("skipping '{}': {}", sample.path, reason);
      skipped[k]->emplace_back(sample.path, reason);
    }
    if (usable.empty() && !split->empty())
      throw DataError("the " + name + " split of '" + data.root + "' has no usable image: all " +
                      std::to_string(split->size()) + " files were skipped (first: '" + skipped[k]->front().first +
                      "': " + skipped[k]->front().second + "); fix or replace the files");
    *split = std::move(usable);
  }
  if (!index.skipped_train.empty() || !index.skipped_val.empty() || !index.skipped_test.empty())
    spdlog::info("skipped unusable images: train {}, val {}, test {}", index.skipped_train.size(),
                 index.skipped_val.size(), index.skipped_test.size());
}

}  // namespace

std::string layout_name(Layout layout) {
  switch (layout) {
    case Layout::Food11: return "food11";
    case Layout::Caltech101: return "caltech101";
    case Layout::Fruits360: return "fruits360";
    case Layout::Folder: return "folder";
  }
  return "folder";
}

const std::vector<Sample>& DatasetIndex::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  throw DataError("unknown split '" + name + "'; use train, val or test");
}

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  static const std::set<std::string> kExtensions = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"};
  return kExtensions.count(ext) > 0;
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[splitmix64(state) % uint64_t(i + 1)]);
  return perm;
}

Layout detect_layout(const std::string& root, const std::string& requested) {
  check_root(root);
  if (requested != "auto") return parse_layout(requested);
  const std::vector<std::string> dirs = subdir_names(root);
  auto has = [&](const char* name) { return std::find(dirs.begin(), dirs.end(), name) != dirs.end(); };
  std::vector<Layout> matches;
  if (has("training") && has("validation")) matches.push_back(Layout::Food11);
  if (has("Training") && has("Test")) matches.push_back(Layout::Fruits360);
  if (has("train")) matches.push_back(Layout::Folder);
  if (matches.size() > 1) {
    std::vector<std::string> names;
    for (Layout l : matches) names.push_back(layout_name(l));
    throw DataError("cannot tell the layout of data.root '" + root + "': it matches " + quoted_list(names) +
                    "; set data.layout to one of them (" + kLayoutHelp + ")");
  }
  if (matches.size() == 1) return matches.front();
  std::vector<std::string> split_like;
  for (const auto& d : dirs)
    if (kSplitFolderNames.count(d)) split_like.push_back(d);
  if (dirs.empty() || !split_like.empty())
    throw DataError("cannot recognise the layout of data.root '" + root + "' (split-like folders: " +
                    quoted_list(split_like) + "); considered food11, fruits360, folder and caltech101: " + kLayoutHelp +
                    "; arrange the folders so or set data.layout");
  fs::path p(root);
  const std::string base = (p.has_filename() ? p : p.parent_path()).filename().string();
  return base == "101_ObjectCategories" ? Layout::Caltech101 : Layout::Folder;
}

DatasetIndex scan_dataset(const DataConfig& data) {
  DatasetIndex index;
  index.root = data.root;
  index.layout = detect_layout(data.root, data.layout);
  const fs::path root(data.root);
  switch (index.layout) {
    case Layout::Food11: scan_food11(root, data, index); break;
    case Layout::Fruits360: scan_fruits360(root, data, index); break;
    case Layout::Caltech101: scan_class_root(root, data, index); break;
    case Layout::Folder: scan_folder(root, data, index); break;
  }
  if (index.train.empty())
    throw DataError("no training images found under '" + data.root + "' (layout " + layout_name(index.layout) +
                    "); " + kLayoutHelp);
  drop_unusable(index, data);
  if (index.layout == Layout::Fruits360 && data.val_from == "test") {
    index.val = index.test;
    index.skipped_val = index.skipped_test;
  }
  if (index.val.empty()) spdlog::warn("the val split of '{}' is empty", data.root);
  return index;
}

Json split_to_json(const DatasetIndex& index) {
  Json j;
  j["root"] = index.root;
  j["layout"] = layout_name(index.layout);
  j["classes"] = index.classes;
  for (const char* name : {"train", "val", "test"}) {
    Json samples = Json::array();
    for (const auto& s : index.split(name))
      samples.push_back({{"path", s.path}, {"label", s.label}, {"class", index.classes.at(size_t(s.label))}});
    j[name] = std::move(samples);
  }
  return j;
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
  for (const auto& c : index.classes) name_width = std::max(name_width, c.size());
  const int num_width = std::max<int>(5, int(std::to_string(totals[0]).size()));
  std::ostringstream out;
  auto row = [&](const std::string& name, const std::array<std::string, 3>& cells) {
    out << name << std::string(name_width - name.size(), ' ');
    for (const auto& cell : cells) out << " | " << std::string(std::max<int>(0, num_width - int(cell.size())), ' ') << cell;
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
    warnings.push_back("class imbalance: '" + index.classes[largest] + "' has " + std::to_string(counts[largest][0]) +
                       " training images, '" + index.classes[smallest] + "' only " +
                       std::to_string(counts[smallest][0]) +
                       " (more than 10x); consider train.class_weights_mode = \"balanced\"");
  std::vector<std::string> tiny;
  for (size_t label = 0; label < counts.size(); ++label)
    if (counts[label][0] < 5) tiny.push_back(index.classes[label]);
  if (!tiny.empty())
    warnings.push_back(std::to_string(tiny.size()) + " class(es) have fewer than 5 training images: " + quoted_list(tiny) +
                       "; collect more images or merge classes");
  return warnings;
}

std::vector<std::string> list_images(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError("'" + path + "' does not exist; give an image file or a folder of images");
  if (!fs::is_directory(path, ec)) return {path};
  return images_under(path);
}

}  // namespace tl
