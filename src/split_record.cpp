#include "tl/split_record.h"

#include <cstdio>
#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include "tl/errors.h"
#include "tl/files.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

constexpr const char* kFormat = "tl-train-split";
constexpr int kVersion = 2;
const char* const kSplits[] = {"train", "val", "test"};

std::string relative_to(const std::string& path, const std::string& root) {
  const fs::path rel = fs::path(path).lexically_relative(root);
  return rel.empty() || rel.native().rfind("..", 0) == 0 ? path : rel.string();
}

std::string under(const std::string& root, const std::string& relative) {
  return fs::path(relative).is_absolute() ? relative : (fs::path(root) / relative).string();
}

// The settings that decide which file lands in which split.
Json split_settings(const DataConfig& d) {
  return Json{{"layout", name_of(d.layout)},
              {"class_names", d.class_names},
              {"exclude", d.exclude},
              {"split", d.split},
              {"seed", d.seed},
              {"val_from", name_of(d.val_from)},
              {"val_fraction", d.val_fraction},
              {"max_pixels", d.max_pixels},
              {"on_conflict", name_of(d.on_conflict)},
              {"duplicates", name_of(d.duplicates)}};
}

Json file_list(const std::vector<Sample>& samples, const DatasetIndex& index) {
  Json list = Json::array();
  for (const auto& s : samples)
    list.push_back(
        {{"path", relative_to(s.path, index.root)}, {"label", s.label}, {"class", index.classes.at(size_t(s.label))}});
  return list;
}

Json report_json(const ScanReport& report, const std::string& root) {
  Json skipped = Json::array(), conflicts = Json::array(), duplicates = Json::array();
  for (const auto& s : report.skipped)
    skipped.push_back({{"path", relative_to(s.path, root)}, {"split", s.split}, {"reason", s.reason}});
  for (const auto& c : report.conflicts)
    conflicts.push_back({{"paths", {relative_to(c.first_path, root), relative_to(c.second_path, root)}},
                         {"classes", {c.first_class, c.second_class}},
                         {"kind", c.same_file ? "same file" : "same content"}});
  for (const auto& g : report.duplicates) {
    Json files = Json::array();
    for (const auto& [path, split] : g.files) files.push_back({{"path", relative_to(path, root)}, {"split", split}});
    duplicates.push_back({{"hash", g.hash}, {"files", files}});
  }
  return Json{{"skipped", skipped}, {"conflicts", conflicts}, {"duplicate_groups", duplicates}};
}

}  // namespace

Json split_record(const DatasetIndex& index, const DataConfig& data) {
  Json record{{"format", kFormat},
              {"version", kVersion},
              {"root", index.root},
              {"layout", name_of(index.layout)},
              {"settings", split_settings(data)},
              {"classes", index.classes}};
  for (const char* name : kSplits) record[name] = file_list(index.split(name), index);
  const Json report = report_json(index.report, index.root);
  for (const auto& item : report.items()) record[item.key()] = item.value();
  record["digest"] = split_digest(record);
  return record;
}

std::string split_digest(const Json& record) {
  Json core{{"classes", record.value("classes", Json::array())}};
  for (const char* name : kSplits) {
    Json files = Json::array();
    for (const auto& f : record.value(name, Json::array())) files.push_back({f.value("path", ""), f.value("label", 0)});
    core[name] = files;
  }
  const std::string text = dump_json(core);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(XXH3_64bits(text.data(), text.size())));
  return hex;
}

std::string changed_split_setting(const Json& record, const DataConfig& data) {
  if (!record.contains("settings")) return "";  // written before settings were recorded
  const Json now = split_settings(data);
  for (const auto& item : record["settings"].items()) {
    if (!now.contains(item.key()) || now[item.key()] == item.value()) continue;
    return "'data." + item.key() + "' changed from " + dump_json(item.value()) + " to " + dump_json(now[item.key()]);
  }
  return "";
}

RecordedSplit split_from_record(const Json& record, const std::string& root,
                                const std::vector<std::string>& current_files) {
  RecordedSplit out;
  DatasetIndex& index = out.index;
  index.root = root;
  index.layout = parse_choice<Layout>(record.value("layout", "folder")).value_or(Layout::Folder);
  index.classes = record.at("classes").get<std::vector<std::string>>();
  // Written by tl-train before version 2: paths are root-joined, not relative.
  const std::string recorded_root = record.value("version", 1) >= 2 ? "" : record.value("root", "");
  std::set<std::string> known;
  auto resolve = [&](const std::string& path) {
    const std::string rel = recorded_root.empty() ? path : relative_to(path, recorded_root);
    const std::string full = under(root, rel);
    known.insert(fs::path(full).lexically_normal().string());
    return full;
  };
  std::vector<Sample>* lists[] = {&index.train, &index.val, &index.test};
  for (size_t k = 0; k < 3; ++k) {
    std::vector<Sample>& split = *lists[k];
    for (const auto& f : record.value(kSplits[k], Json::array())) {
      const std::string full = resolve(f.at("path").get<std::string>());
      const int64_t label = f.at("label").get<int64_t>();
      if (label < 0 || label >= int64_t(index.classes.size()))
        throw DataError("split record: label out of range for " + full);
      std::error_code ec;
      if (fs::exists(full, ec))
        split.push_back({full, label});
      else
        out.missing.push_back(full);
    }
  }
  for (const auto& s : record.value("skipped", Json::array())) resolve(s.value("path", ""));
  for (const auto& g : record.value("duplicate_groups", Json::array()))
    for (const auto& f : g.value("files", Json::array())) resolve(f.value("path", ""));
  for (const auto& c : record.value("conflicts", Json::array()))
    for (const auto& p : c.value("paths", Json::array())) resolve(p.get<std::string>());
  for (const auto& f : current_files)
    if (!known.count(fs::path(f).lexically_normal().string())) ++out.new_files;
  return out;
}

Json read_split_record(const std::string& path) {
  Json record;
  try {
    record = parse_json(read_file(path));
  } catch (const Json::exception& e) {
    throw DataError(path + ": not a readable split record (" + std::string(e.what()) +
                    "); start afresh with --overwrite");
  } catch (const IoError& e) {
    throw DataError(std::string(e.what()));
  }
  if (!record.is_object() || !record.contains("classes") || !record.contains("train") ||
      (record.contains("format") && record["format"] != kFormat))
    throw DataError(path + ": not a tl-train split record; start afresh with --overwrite");
  if (record.value("version", 1) > kVersion)
    throw DataError(path + ": written by a newer tl-train (split format " + std::to_string(record.value("version", 1)) +
                    "); use that version");
  return record;
}

void report_recorded_split(const RecordedSplit& split, const std::string& source) {
  if (!split.missing.empty())
    spdlog::warn("{} file(s) of the split in {} no longer exist and are left out (first: '{}')", split.missing.size(),
                 source, printable(split.missing.front()));
  if (split.new_files > 0)
    spdlog::info(
        "{} image file(s) added since the split in {} was made are ignored (a run keeps its split; start a new "
        "run to use them)",
        split.new_files, source);
}

}  // namespace tl
