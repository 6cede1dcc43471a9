// tl-train check-data: everything the trainer would find in the data, without training. The scan
// is the trainer's own; when it refuses, the data is scanned again leniently (conflicting and
// leaked files kept, bad images skipped) so that the report still shows all that is wrong.
#include <iostream>
#include <optional>

#include <spdlog/spdlog.h>

#include "command_helpers.h"
#include "tl/commands.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/errors.h"
#include "tl/json.h"
#include "tl/logging.h"

namespace tl {
namespace {

constexpr size_t kListed = 10;  // entries of each list in the text report

struct DataCheck {
  std::optional<DatasetIndex> index;  // the strict scan, or the lenient one when it refused
  std::string refusal;                // the trainer's one-line error, "" when training would start
  int exit_code = kExitOk;
};

DataCheck check_data(const Config& config) {
  DataCheck check;
  try {
    check.index = scan_dataset(config.data, config.model.input_size);
    check_config_against_data(config, *check.index);
    return check;
  } catch (const Error& e) {
    check.refusal = e.what();
    check.exit_code = e.exit_code();
  }
  DataConfig lenient = config.data;
  lenient.on_conflict = ConflictPolicy::Skip;
  lenient.duplicates = DuplicatePolicy::Warn;
  lenient.on_bad_image = BadImagePolicy::Skip;
  try {
    check.index = scan_dataset(lenient, config.model.input_size);
  } catch (const Error&) {  // the refusal above says it all
  }
  return check;
}

Json counts_json(const DatasetIndex& index) {
  Json counts = Json::object();
  for (const char* split : {"train", "val", "test"}) {
    std::vector<int64_t> per_class(index.classes.size(), 0);
    for (const auto& s : index.split(split)) ++per_class.at(size_t(s.label));
    counts[split] = per_class;
  }
  return counts;
}

Json report_json(const DatasetIndex& index) {
  const ScanReport& r = index.report;
  Json j{
      {"root", index.root},           {"layout", name_of(index.layout)},     {"classes", index.classes},
      {"counts", counts_json(index)}, {"warnings", balance_warnings(index)}, {"notes", r.notes},
      {"unusable", Json::array()},    {"conflicts", Json::array()},          {"duplicates", Json::array()},
      {"leaked", r.leaked},           {"refused_links", r.refused_links},    {"links_out_of_root", r.links_out_of_root},
      {"odd_sizes", Json::array()}};
  for (const auto& s : r.skipped) j["unusable"].push_back({{"path", s.path}, {"split", s.split}, {"reason", s.reason}});
  for (const auto& c : r.conflicts)
    j["conflicts"].push_back({{"paths", {c.first_path, c.second_path}},
                              {"classes", {c.first_class, c.second_class}},
                              {"same_file", c.same_file}});
  for (const auto& g : r.duplicates) {
    Json files = Json::array();
    for (const auto& [path, split] : g.files) files.push_back({{"path", path}, {"split", split}});
    j["duplicates"].push_back({{"hash", g.hash}, {"files", files}});
  }
  for (const auto& [path, what] : r.odd_sizes) j["odd_sizes"].push_back({{"path", path}, {"what", what}});
  return j;
}

bool within_one_split(const DuplicateGroup& g) {
  for (const auto& file : g.files)
    if (file.second != g.files.front().second) return false;
  return true;
}

template <typename T, typename F>
void print_list(std::ostream& out, const std::string& title, const std::vector<T>& items, F line) {
  if (items.empty()) return;
  out << "\n" << title << ": " << items.size() << "\n";
  for (size_t i = 0; i < items.size() && i < kListed; ++i) out << "  " << line(items[i]) << "\n";
  if (items.size() > kListed) out << "  ... and " << items.size() - kListed << " more (--json lists all)\n";
}

void print_report(std::ostream& out, const DatasetIndex& index) {
  const ScanReport& r = index.report;
  out << "Dataset " << printable(index.root) << " (layout " << name_of(index.layout) << "): " << index.classes.size()
      << " classes, " << index.train.size() << " train / " << index.val.size() << " val / " << index.test.size()
      << " test images\n";
  for (const auto& note : r.notes) out << "  " << note << "\n";
  out << class_count_table(index);
  for (const auto& w : balance_warnings(index)) out << "warning: " << w << "\n";
  print_list(out, "Unusable files", r.skipped,
             [](const SkippedFile& s) { return printable(s.path) + ": " + s.reason; });
  print_list(out, "Label conflicts", r.conflicts, [](const LabelConflict& c) {
    return printable(c.first_path) + " (" + printable(c.first_class) + ") and " + printable(c.second_path) + " (" +
           printable(c.second_class) + ")" + (c.same_file ? ": the same file" : ": identical images");
  });
  std::vector<DuplicateGroup> within, across;
  for (const auto& g : r.duplicates) (within_one_split(g) ? within : across).push_back(g);
  const auto group_line = [](const DuplicateGroup& g) {
    std::string line;
    for (const auto& [path, split] : g.files)
      line += (line.empty() ? "" : " = ") + printable(path) + " (" + split + ")";
    return line;
  };
  print_list(out, "Duplicates within a split (groups)", within, group_line);
  print_list(out, "Duplicates across splits (groups; " + std::to_string(r.leaked) + " leaked file(s))", across,
             group_line);
  print_list(out, "Directory links not followed (they would mix classes)", r.refused_links,
             [](const std::string& p) { return printable(p); });
  if (r.links_out_of_root > 0) out << "\nDirectory links followed out of data.root: " << r.links_out_of_root << "\n";
  print_list(out, "Small or oddly shaped images", r.odd_sizes,
             [](const std::pair<std::string, std::string>& o) { return printable(o.first) + ": " + o.second; });
}

}  // namespace

int run_check_data(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, /*quiet=*/true);
  spdlog::set_level(spdlog::level::err);  // the report says what the scan's warnings would
  const Config config = load_config(o.config_path, o.overrides);
  const DataCheck check = check_data(config);
  if (o.json) {
    Json j = check.index ? report_json(*check.index) : Json::object();
    j["would_train"] = check.refusal.empty();
    j["error"] = check.refusal.empty() ? Json(nullptr) : Json(check.refusal);
    j["exit_code"] = check.exit_code;
    std::cout << dump_json(j) << std::endl;
    return check.exit_code;
  }
  if (check.index) print_report(std::cout, *check.index);
  if (check.refusal.empty()) {
    std::cout << "\nTraining would start with this data.\n";
  } else {
    std::cout << "\nTraining would not start (exit " << check.exit_code << "):\n";
    std::cerr << "tl-train: error: " << check.refusal << "\n";
  }
  return check.exit_code;
}

}  // namespace tl
