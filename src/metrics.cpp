#include "tl/metrics.h"

#include "tl/csv.h"
#include "tl/text_width.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace tl {
namespace {

// Beyond this many classes the text matrix labels its columns by index (names would make it
// hundreds of characters wide); the rows then carry "index name" and serve as the legend.
constexpr size_t kMaxNamedColumns = 12;
constexpr size_t kTerminalWidth = 120;  // named columns are abbreviated to fit this when they can
constexpr size_t kMinColumnName = 5;
constexpr size_t kMaxRowName = 24;

bool starts_character(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

// `s` cut to at most `width` terminal columns (display_width: CJK takes two), ending in "." when
// shortened, never splitting a character.
std::string abbreviate(const std::string& s, size_t width) {
  if (display_width(s) <= width) return s;
  if (width == 0) return "";
  std::string out;
  for (size_t i = 0, j = 0; i < s.size(); i = j) {
    for (j = i + 1; j < s.size() && !starts_character(s[j]);) ++j;
    if (display_width(out) + display_width(s.substr(i, j - i)) + 1 > width) break;  // + 1 for the "."
    out += s.substr(i, j - i);
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '-' || out.back() == '_')) out.pop_back();  // "Dairy."
  return out + ".";
}

double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// Row-major position of (truth, predicted) in a k x k matrix; throws naming the bad index.
size_t cell_index(size_t k, int64_t truth, int64_t predicted) {
  for (int64_t label : {truth, predicted}) {
    if (label < 0 || static_cast<size_t>(label) >= k)
      throw std::out_of_range("class index " + std::to_string(label) + " out of range [0, " + std::to_string(k) + ")");
  }
  return static_cast<size_t>(truth) * k + static_cast<size_t>(predicted);
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(std::vector<std::string> classes)
    : classes_(std::move(classes)), counts_(classes_.size() * classes_.size(), 0) {}

void ConfusionMatrix::add(int64_t truth, int64_t predicted) {
  ++counts_[cell_index(classes_.size(), truth, predicted)];
  ++total_;
}

int64_t ConfusionMatrix::at(int64_t truth, int64_t predicted) const {
  return counts_[cell_index(classes_.size(), truth, predicted)];
}

int64_t ConfusionMatrix::correct() const {
  int64_t sum = 0;
  for (size_t i = 0; i < classes_.size(); ++i) sum += counts_[i * classes_.size() + i];
  return sum;
}

double ConfusionMatrix::accuracy() const { return ratio(correct(), total_); }

std::vector<ClassMetrics> ConfusionMatrix::per_class() const {
  const size_t k = classes_.size();
  std::vector<int64_t> predicted(k, 0);
  std::vector<ClassMetrics> out(k);
  for (size_t t = 0; t < k; ++t) {
    for (size_t p = 0; p < k; ++p) {
      out[t].support += counts_[t * k + p];
      predicted[p] += counts_[t * k + p];
    }
  }
  for (size_t c = 0; c < k; ++c) {
    const double tp = counts_[c * k + c];
    ClassMetrics& m = out[c];
    m.name = classes_[c];
    m.precision = ratio(tp, predicted[c]);
    m.recall = ratio(tp, m.support);
    m.f1 = ratio(2 * m.precision * m.recall, m.precision + m.recall);
  }
  return out;
}

ClassMetrics ConfusionMatrix::macro_average() const {
  ClassMetrics avg{"macro avg"};
  const auto rows = per_class();
  for (const auto& m : rows) {
    avg.precision += m.precision;
    avg.recall += m.recall;
    avg.f1 += m.f1;
  }
  const double n = static_cast<double>(rows.size());
  avg.precision = ratio(avg.precision, n);
  avg.recall = ratio(avg.recall, n);
  avg.f1 = ratio(avg.f1, n);
  avg.support = total_;
  return avg;
}

ClassMetrics ConfusionMatrix::weighted_average() const {
  ClassMetrics avg{"weighted avg"};
  for (const auto& m : per_class()) {
    avg.precision += m.precision * m.support;
    avg.recall += m.recall * m.support;
    avg.f1 += m.f1 * m.support;
  }
  avg.precision = ratio(avg.precision, total_);
  avg.recall = ratio(avg.recall, total_);
  avg.f1 = ratio(avg.f1, total_);
  avg.support = total_;
  return avg;
}

std::string ConfusionMatrix::to_text() const {
  const size_t k = classes_.size();
  const bool by_index = k > kMaxNamedColumns;
  const size_t index_width = std::to_string(k == 0 ? 0 : k - 1).size();

  size_t row_width = 0, longest_name = 0;
  std::vector<std::string> row_labels;
  for (size_t c = 0; c < k; ++c) {
    std::string name = abbreviate(classes_[c], kMaxRowName);
    row_labels.push_back(by_index ? pad_left(std::to_string(c), index_width) + " " + name : name);
    row_width = std::max(row_width, display_width(row_labels.back()));
    longest_name = std::max(longest_name, display_width(classes_[c]));
  }
  const size_t fitting = k == 0 ? 0 : (kTerminalWidth - std::min(kTerminalWidth, row_width)) / k;
  const size_t name_width = std::min(longest_name, std::max(kMinColumnName, fitting >= 2 ? fitting - 2 : 0));
  const size_t count_width =
      std::to_string(counts_.empty() ? 0 : *std::max_element(counts_.begin(), counts_.end())).size();
  const size_t column_width = std::max(count_width, by_index ? index_width : name_width);

  std::ostringstream out;
  out << "Confusion matrix (rows: true class, columns: predicted class" << (by_index ? " index" : "") << ")\n";
  out << std::string(row_width, ' ');
  for (size_t c = 0; c < k; ++c)
    out << "  " << pad_left(by_index ? std::to_string(c) : abbreviate(classes_[c], column_width), column_width);
  out << '\n';
  for (size_t t = 0; t < k; ++t) {
    out << pad_right(row_labels[t], row_width);
    for (size_t p = 0; p < k; ++p) out << "  " << pad_left(std::to_string(counts_[t * k + p]), column_width);
    out << '\n';
  }
  return out.str();
}

std::string ConfusionMatrix::to_csv() const {
  const size_t k = classes_.size();
  std::string out = "true/predicted";
  for (const auto& name : classes_) out += "," + csv_field(name);
  out += '\n';
  for (size_t t = 0; t < k; ++t) {
    out += csv_field(classes_[t]);
    for (size_t p = 0; p < k; ++p) out += "," + std::to_string(counts_[t * k + p]);
    out += '\n';
  }
  return out;
}

// Same layout as sklearn.metrics.classification_report(digits=4).
std::string classification_report(const ConfusionMatrix& cm) {
  const auto rows = cm.per_class();
  size_t width = std::string("weighted avg").size();
  for (const auto& m : rows) width = std::max(width, display_width(m.name));
  const int w = static_cast<int>(width);

  std::string out;
  char line[512];
  auto add_row = [&](const ClassMetrics& m) {
    out += pad_left(m.name, width);
    std::snprintf(line, sizeof line, "  %9.4f %9.4f %9.4f %9lld\n", m.precision, m.recall, m.f1,
                  static_cast<long long>(m.support));
    out += line;
  };
  std::snprintf(line, sizeof line, "%*s  %9s %9s %9s %9s\n\n", w, "", "precision", "recall", "f1-score", "support");
  out += line;
  for (const auto& m : rows) add_row(m);
  std::snprintf(line, sizeof line, "\n%*s  %9s %9s %9.4f %9lld\n", w, "accuracy", "", "", cm.accuracy(),
                static_cast<long long>(cm.total()));
  out += line;
  add_row(cm.macro_average());
  add_row(cm.weighted_average());
  return out;
}

}  // namespace tl
