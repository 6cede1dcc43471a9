#pragma once
// Finding a dataset's images and classes on disk. Only reads the file system (and image files):
// classes are sorted and fixed, every file is probed and hashed once, unusable files are dropped
// before any split is made, splits are stratified per class, seeded, keep identical content
// together, and are the same across runs and machines.
#include <cstdint>
#include <string>
#include <vector>

#include "tl/config.h"

namespace tl {

struct Sample {
  std::string path;
  int64_t label = 0;
};

// A file the scan did not use, and why.
struct SkippedFile {
  std::string path;
  std::string split;  // "train", "val" or "test" (the folder it was found in; "train" for tool-made splits)
  std::string reason;
};

// One file reached under two labels: the same file (a link, a hard link) or the same content.
struct LabelConflict {
  std::string first_path, first_class, second_path, second_class;
  bool same_file = false;  // false: two files with identical content
};

// Files with identical content (by a 128-bit xxHash of their bytes), with their splits.
struct DuplicateGroup {
  std::string hash;                                        // 32 hex digits
  std::vector<std::pair<std::string, std::string>> files;  // (path, split)
};

// What the scan found besides the samples, for the log and split.json.
struct ScanReport {
  std::vector<SkippedFile> skipped;
  std::vector<LabelConflict> conflicts;    // all of them, whatever data.on_conflict did
  std::vector<DuplicateGroup> duplicates;  // groups of 2+ files, within and across splits
  int64_t leaked = 0;                      // files whose content is also in an earlier split
  int64_t dropped_duplicates = 0;          // removed by data.duplicates = "drop"
  int64_t dropped_conflicts = 0;           // removed by data.on_conflict = "skip"
  int64_t links_out_of_root = 0;           // directory links followed out of data.root
  std::vector<std::string> refused_links;  // directory links that would mix classes (not followed)
  std::vector<std::string> notes;          // how the layout was recognised, carved splits
  // Images much smaller than model.input_size, or of extreme aspect ratio (from the headers).
  std::vector<std::pair<std::string, std::string>> odd_sizes;  // (path, what)
};

struct DatasetIndex {
  std::string root;
  Layout layout = Layout::Folder;
  std::vector<std::string> classes;  // label i -> classes[i]
  std::vector<Sample> train, val, test;
  ScanReport report;

  const std::vector<Sample>& split(const std::string& name) const;  // "train" | "val" | "test"
  size_t skipped(const std::string& split) const;
};

// True for jpg, jpeg, png, bmp, webp, tif, tiff in any case.
bool has_image_extension(const std::string& path);

// Picks the layout of `root` (Auto detects it; an ambiguous or unknown tree is a DataError).
// `why` receives the reason for the choice, for the log.
Layout detect_layout(const std::string& root, Layout requested, std::string* why = nullptr);

// Scans `data.root` per `data.layout` and makes the splits. Every file is probed and hashed (in
// parallel); unusable files are skipped (or fail with DataError when on_bad_image = "fail").
// `input_size` (0: unknown) only serves the odd-size notes. Errors (DataError, naming the path):
// a missing or unreadable root or directory, an empty class folder, a split with no usable image,
// a class left without a training image, fewer than 2 classes, a label conflict with
// on_conflict = "fail", leakage with duplicates = "fail".
DatasetIndex scan_dataset(const DataConfig& data, int64_t input_size = 0);

// The image files the layout would list now, without probing them (to count the files added
// since a run's split was recorded).
std::vector<std::string> list_dataset_files(const DataConfig& data);

// A per-split, per-class count table for the log, plus warnings (heavy imbalance, tiny classes).
std::string class_count_table(const DatasetIndex& index);
std::vector<std::string> balance_warnings(const DatasetIndex& index);

// Every image file under `path` (a file is returned as is), recursively, sorted.
std::vector<std::string> list_images(const std::string& path);

// A permutation of 0..n-1 from splitmix64 + Fisher-Yates: the same for a seed on every machine and
// standard library (std::shuffle and the std distributions are not). Splits and loaders use it.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace tl
