#pragma once
// Classification metrics from predictions: confusion matrix, accuracy, per-class precision /
// recall / F1 / support, macro and weighted averages, top-k accuracy.
#include <cstdint>
#include <string>
#include <vector>

#include "tl/config.h"

namespace tl {

struct ClassMetrics {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;  // 0 when undefined (no predictions / no support)
  int64_t support = 0;
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::vector<std::string> classes);
  void add(int64_t truth, int64_t predicted);
  int64_t at(int64_t truth, int64_t predicted) const;
  int64_t total() const { return total_; }
  int64_t correct() const;
  double accuracy() const;  // 0 for an empty matrix
  std::vector<ClassMetrics> per_class() const;
  ClassMetrics macro_average() const;     // unweighted mean over classes (support = total)
  ClassMetrics weighted_average() const;  // weighted by support
  const std::vector<std::string>& classes() const { return classes_; }
  // Aligned text table with class names (rows: true, columns: predicted).
  std::string to_text() const;
  // CSV with a header row of predicted class names and a first column of true class names.
  std::string to_csv() const;

 private:
  std::vector<std::string> classes_;
  std::vector<int64_t> counts_;  // row-major K x K
  int64_t total_ = 0;
};

// Per-class precision/recall/F1/support as an aligned text table, then macro and weighted rows.
std::string classification_report(const ConfusionMatrix& cm);

}  // namespace tl
