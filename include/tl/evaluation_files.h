#pragma once
// What an evaluation leaves behind (the `evaluate` command and the end of training write the same
// files through here): confusion_matrix.csv and .png, metrics.json, misclassified.csv, and the
// text report printed on the console.
#include <string>
#include <vector>

#include "tl/dataset.h"
#include "tl/evaluate.h"

namespace tl {

// Writes the files into `out_dir` (created; IoError naming it when that fails). `about` is merged
// into metrics.json (which checkpoint, epoch and split were scored).
void write_evaluation_files(const std::string& out_dir, const EvalResult& result, const std::vector<Sample>& samples,
                            const Json& about);

// Accuracy, "Number of correctly identified images: X of Y", top-5, mean loss, the confusion
// matrix and the per-class report, as the console shows them.
std::string evaluation_text(const EvalResult& result);

}  // namespace tl
