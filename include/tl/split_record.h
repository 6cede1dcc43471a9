#pragma once
// split.json: the split a run was trained on, written when the run starts. --resume and evaluate
// read it back, so that they use exactly the files of training, whatever the folder holds now
// (new files are ignored with a count, missing ones are reported). Paths are stored relative to
// data.root, so a dataset that moved (evaluate --data NEWROOT) still matches.
#include <string>
#include <vector>

#include "tl/config.h"
#include "tl/dataset.h"

namespace tl {

// The split.json record of a scan: root, layout, classes, the split-defining settings, every file
// of every split with its class, and what the scan skipped, found twice or under two labels.
Json split_record(const DatasetIndex& index, const DataConfig& data);

// A short hash of the record's classes and file lists; checkpoints carry it so that evaluate can
// tell whether a split.json belongs to them.
std::string split_digest(const Json& record);

// "'data.seed' changed from 42 to 7" for the first split-defining setting that differs from the
// record, "" when none does.
std::string changed_split_setting(const Json& record, const DataConfig& data);

struct RecordedSplit {
  DatasetIndex index;                // the recorded splits, under the given root
  std::vector<std::string> missing;  // recorded files that no longer exist (left out)
  int64_t new_files = 0;             // image files under the root that the record does not know
};

// Rebuilds a run's split from its record, with paths under `root`. `current_files` (the files a
// scan would list now, see list_dataset_files) serve to count the new ones.
RecordedSplit split_from_record(const Json& record, const std::string& root,
                                const std::vector<std::string>& current_files);

// Reads split.json (DataError naming the file when it is unreadable or not a split record).
Json read_split_record(const std::string& path);

// Logs what split_from_record found: missing files (a warning) and new files (ignored).
void report_recorded_split(const RecordedSplit& split, const std::string& source);

}  // namespace tl
