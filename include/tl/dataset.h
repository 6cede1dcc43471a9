#pragma once
// Finding a dataset's images and classes on disk. Only reads the file system (and image headers):
// classes are sorted and fixed, splits are stratified per class, seeded, and identical across
// runs and machines.
#include <cstdint>
#include <string>
#include <vector>

#include "tl/config.h"

namespace tl {

enum class Layout { Food11, Caltech101, Fruits360, Folder };

std::string layout_name(Layout layout);

struct Sample {
  std::string path;
  int64_t label = 0;
};

struct DatasetIndex {
  std::string root;
  Layout layout = Layout::Folder;
  std::vector<std::string> classes;  // label i -> classes[i]
  std::vector<Sample> train, val, test;
  // Unusable files found by the scan, per split (path and reason); they are not in the lists above.
  std::vector<std::pair<std::string, std::string>> skipped_train, skipped_val, skipped_test;

  const std::vector<Sample>& split(const std::string& name) const;  // "train" | "val" | "test"
};

// True for jpg, jpeg, png, bmp, webp, tif, tiff in any case.
bool has_image_extension(const std::string& path);

// Picks the layout of `root` ("auto" detects it; an ambiguous or unknown tree is a DataError).
Layout detect_layout(const std::string& root, const std::string& requested);

// Scans `data.root` per `data.layout` and makes the splits. Every file is probed (see image.h);
// unusable files are skipped with a warning (or fail with DataError when on_bad_image = "fail").
// Errors (DataError, naming the path): missing/unreadable root or directory, a split with no
// usable image, an empty class folder.
DatasetIndex scan_dataset(const DataConfig& data);

// {"root", "layout", "classes", "train": [{"path", "label", "class"}...], "val": [...], "test": [...]}
Json split_to_json(const DatasetIndex& index);

// A per-split, per-class count table for the log, plus warnings (heavy imbalance, tiny classes).
std::string class_count_table(const DatasetIndex& index);
std::vector<std::string> balance_warnings(const DatasetIndex& index);

// Every image file under `path` (a file is returned as is), recursively, sorted.
std::vector<std::string> list_images(const std::string& path);

// A permutation of 0..n-1 from splitmix64 + Fisher-Yates: the same for a seed on every machine and
// standard library (std::shuffle and the std distributions are not). Splits and loaders use it.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace tl
