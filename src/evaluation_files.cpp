#include "tl/evaluation_files.h"

#include <filesystem>
#include <iomanip>
#include <sstream>

#include "tl/csv.h"
#include "tl/errors.h"
#include "tl/files.h"
#include "tl/report.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

std::string percent(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << 100 * v << "%";
  return s.str();
}

std::string misclassified_csv(const EvalResult& result, const std::vector<Sample>& samples) {
  const auto& classes = result.confusion.classes();
  std::string csv = "path,true,predicted,probability\n";
  for (const auto& p : result.predictions)
    if (p.truth != p.predicted)
      csv += csv_field(samples.at(size_t(p.sample)).path) + "," + csv_field(classes.at(size_t(p.truth))) + "," +
             csv_field(classes.at(size_t(p.predicted))) + "," + std::to_string(p.probability) + "\n";
  return csv;
}

}  // namespace

void write_evaluation_files(const std::string& out_dir, const EvalResult& result, const std::vector<Sample>& samples,
                            const Json& about) {
  create_output_folder(out_dir);
  const auto in = [&](const char* name) { return (fs::path(out_dir) / name).string(); };
  Json metrics = eval_to_json(result);
  for (const auto& item : about.items()) metrics[item.key()] = item.value();
  write_file_atomic(in("confusion_matrix.csv"), result.confusion.to_csv());
  write_file_atomic(in("confusion_matrix.png"), render_confusion_png(result.confusion));
  write_file_atomic(in("metrics.json"), dump_json(metrics, 2));
  write_file_atomic(in("misclassified.csv"), misclassified_csv(result, samples));
}

std::string evaluation_text(const EvalResult& r) {
  std::ostringstream out;
  out << "Accuracy: " << percent(r.accuracy) << "\n"
      << "Number of correctly identified images: " << r.correct << " of " << r.total << "\n";
  if (r.top5 >= 0) out << "Top-5 accuracy: " << percent(r.top5) << "\n";
  out << "Mean loss: " << std::fixed << std::setprecision(4) << r.loss << "\n\n"
      << r.confusion.to_text() << "\n"  // to_text() has its own "Confusion matrix (rows: true class, ...)" title
      << classification_report(r.confusion);
  return out.str();
}

}  // namespace tl
