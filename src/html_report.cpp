#include "tl/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "tl/files.h"
#include "tl/grad_cam.h"
#include "tl/history.h"
#include "tl/image.h"
#include "tl/json.h"
#include "tl/metrics.h"
#include "tl/progress.h"
#include "tl/report.h"
#include "tl/run_dir.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

constexpr size_t kWorstShown = 12;
constexpr int kThumbnail = 160;  // px, the longer side

// Plain CSS, system fonts only; prints on white.
const char* const kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #222; background: #fff; line-height: 1.4; }
header { background: #1f3a5f; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 26px; }
header p { margin: 4px 0 0; opacity: 0.85; }
main { padding: 8px 32px 32px; max-width: 1100px; }
h2 { border-bottom: 2px solid #1f3a5f; padding-bottom: 4px; margin-top: 32px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { border: 1px solid #ccd; border-radius: 6px; padding: 10px 16px; min-width: 150px; }
.card b { display: block; font-size: 24px; color: #1f3a5f; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef2f7; }
img.plot { max-width: 100%; border: 1px solid #eee; }
.worst { display: flex; flex-wrap: wrap; gap: 14px; }
.worst figure { margin: 0; border: 1px solid #ddd; padding: 6px; width: 340px; }
.worst figcaption { font-size: 13px; word-break: break-all; }
pre { background: #f6f8fa; padding: 12px; overflow-x: auto; font-size: 12px; white-space: pre-wrap; }
.note { color: #666; font-style: italic; }
@media print { header { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
)";

std::optional<Json> read_json_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    return parse_json(read_file(path));
  } catch (const std::exception& e) {
    spdlog::warn("report: {} is unreadable ({}); its part of the page is left out", path, e.what());
    return std::nullopt;
  }
}

// A table cell's number; a dash where there is none (NaN: no samples of the class).
std::string cell(double v, int decimals) { return std::isfinite(v) ? fixed(v, decimals) : "&ndash;"; }

std::string percent(double v) { return std::isfinite(v) ? fixed(100 * v, 2) + "%" : "&ndash;"; }

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(std::llabs(n)), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string img_tag(const std::vector<unsigned char>& png, const std::string& alt, const std::string& css_class) {
  return "<img class=\"" + css_class + "\" alt=\"" + html_escape(alt) + "\" src=\"data:image/png;base64," +
         base64(png) + "\">";
}

std::string card(const std::string& label, const std::string& value) {
  return "<div class=\"card\"><b>" + value + "</b>" + html_escape(label) + "</div>";
}

std::string note(const std::string& text) { return "<p class=\"note\">" + html_escape(text) + "</p>"; }

std::vector<unsigned char> thumbnail_png(const cv::Mat& bgr) {
  const double scale = std::min(1.0, double(kThumbnail) / std::max(bgr.cols, bgr.rows));
  cv::Mat small;
  cv::resize(bgr, small, cv::Size(), scale, scale, cv::INTER_AREA);
  std::vector<unsigned char> png;
  cv::imencode(".png", small, png);
  return png;
}

// ---- the sections ----

std::string dataset_section(const std::optional<Json>& split) {
  if (!split) return note("No split.json in the run directory: the dataset's counts are unknown.");
  const auto classes = split->value("classes", std::vector<std::string>{});
  const char* names[] = {"train", "val", "test"};
  std::vector<std::array<int64_t, 3>> counts(classes.size(), {0, 0, 0});
  std::array<int64_t, 3> totals{0, 0, 0};
  for (int s = 0; s < 3; ++s)
    for (const auto& f : split->value(names[s], Json::array())) {
      const int64_t label = f.value("label", int64_t(-1));
      if (label < 0 || size_t(label) >= classes.size()) continue;
      ++counts[size_t(label)][size_t(s)], ++totals[size_t(s)];
    }
  std::string html = "<p>" + html_escape(printable(split->value("root", std::string()))) + " (layout " +
                     html_escape(split->value("layout", std::string("?"))) + "), " +
                     std::to_string(classes.size()) + " classes.</p>\n<table><tr><th>class</th><th>train</th>"
                     "<th>validation</th><th>test</th><th>total</th></tr>\n";
  auto row = [&](const std::string& name, const std::array<int64_t, 3>& c, bool bold) {
    const std::string open = bold ? "<th>" : "<td>", close = bold ? "</th>" : "</td>";
    std::string r = "<tr>" + open + name + close;
    for (int64_t v : c) r += open + with_commas(v) + close;
    return r + open + with_commas(c[0] + c[1] + c[2]) + close + "</tr>\n";
  };
  for (size_t k = 0; k < classes.size(); ++k) html += row(html_escape(printable(classes[k])), counts[k], false);
  return html + row("all", totals, true) + "</table>\n";
}

std::string model_section(const std::optional<LoadedCheckpoint>& model_checkpoint, const std::string& which) {
  if (!model_checkpoint) return note("No checkpoint in the run directory: the model summary is unknown.");
  LoadedCheckpoint& ckpt = const_cast<LoadedCheckpoint&>(*model_checkpoint);
  const ModelSummary summary = ckpt.model.summary(ckpt.info.input_size);
  std::string html = "<p>" + html_escape(ckpt.info.config.model.backbone) + ", freeze \"" +
                     html_escape(ckpt.model.freeze_spec()) + "\", head " + html_escape(ckpt.model.head_spec().dump()) +
                     " (from " + html_escape(which) + "): <b>" + with_commas(summary.trainable_params) +
                     "</b> trainable and <b>" + with_commas(summary.frozen_params) + "</b> frozen parameters, input " +
                     std::to_string(ckpt.info.input_size) + " px.</p>\n";
  html += "<details><summary>Layers</summary><table><tr><th>layer</th><th>type</th><th>output</th><th>parameters</th>"
          "<th>trainable</th></tr>\n";
  for (const auto& l : summary.layers) {
    std::string shape;
    for (int64_t d : l.output_shape) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
    html += "<tr><td>" + html_escape(l.name) + "</td><td>" + html_escape(l.type) + "</td><td>" + shape + "</td><td>" +
            with_commas(l.params) + "</td><td>" + (l.params == 0 ? "" : l.trainable ? "yes" : "no") + "</td></tr>\n";
  }
  return html + "</table></details>\n";
}

std::string per_class_table(const Json& metrics) {
  std::string html = "<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n";
  auto row = [](const Json& m, const std::string& name) {
    return "<tr><td>" + name + "</td><td>" + cell(m.value("precision", NAN), 4) + "</td><td>" +
           cell(m.value("recall", NAN), 4) + "</td><td>" + cell(m.value("f1", NAN), 4) + "</td><td>" +
           with_commas(m.value("support", int64_t(0))) + "</td></tr>\n";
  };
  for (const auto& m : metrics.value("per_class", Json::array()))
    html += row(m, html_escape(printable(m.value("name", std::string()))));
  if (metrics.contains("macro_avg")) html += row(metrics["macro_avg"], "<i>macro average</i>");
  if (metrics.contains("weighted_avg")) html += row(metrics["weighted_avg"], "<i>weighted average</i>");
  return html + "</table>\n";
}

std::vector<unsigned char> confusion_png(const std::string& eval_dir, const Json& metrics) {
  const std::string file = (fs::path(eval_dir) / "confusion_matrix.png").string();
  std::error_code ec;
  if (fs::is_regular_file(file, ec)) {
    const std::string bytes = read_file(file);
    return {bytes.begin(), bytes.end()};
  }
  ConfusionMatrix cm(metrics.value("classes", std::vector<std::string>{}));
  const Json matrix = metrics.value("confusion_matrix", Json::array());
  for (size_t t = 0; t < matrix.size(); ++t)
    for (size_t p = 0; p < matrix[t].size(); ++p)
      for (int64_t n = matrix[t][p].get<int64_t>(); n > 0; --n) cm.add(int64_t(t), int64_t(p));
  return render_confusion_png(cm);
}

struct Mistake {
  std::string path, truth, predicted;
  double probability = 0;
};

std::vector<Mistake> worst_mistakes(const std::string& eval_dir) {
  std::vector<Mistake> all;
  const std::string file = (fs::path(eval_dir) / "misclassified.csv").string();
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return all;
  std::istringstream in(read_file(file));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto f = parse_csv_line(line);
    if (f.size() < 4) continue;
    try {
      all.push_back({f[0], f[1], f[2], std::stod(f[3])});
    } catch (const std::exception&) {
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Mistake& a, const Mistake& b) { return a.probability > b.probability; });
  if (all.size() > kWorstShown) all.resize(kWorstShown);
  return all;
}

// The most confident mistakes, each with the image and (with the checkpoint) the Grad-CAM overlay
// of the wrongly predicted class: what the model looked at.
std::string mistakes_section(const std::string& eval_dir, std::optional<LoadedCheckpoint>& scored,
                             const torch::Device& device) {
  const std::vector<Mistake> worst = worst_mistakes(eval_dir);
  if (worst.empty()) return note("No misclassified images recorded (misclassified.csv is empty or missing).");
  std::string html = "<p>The " + std::to_string(worst.size()) +
                     " most confident mistakes" +
                     (scored ? ", each beside the Grad-CAM overlay of the predicted class (where the model looked)" : "") +
                     ".</p>\n<div class=\"worst\">\n";
  for (const Mistake& m : worst) {
    html += "<figure>";
    try {
      const cv::Mat rgb = decode_image(m.path, scored ? scored->info.config.data.max_pixels : 0);
      cv::Mat bgr;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      html += img_tag(thumbnail_png(bgr), "image", "");
      if (scored) {
        const CheckpointInfo& info = scored->info;
        const auto it = std::find(info.classes.begin(), info.classes.end(), m.predicted);
        if (it != info.classes.end()) {
          const cv::Mat input = load_image(m.path, info.input_size, info.resize, info.config.data.max_pixels,
                                           info.config.data.interpolation);
          const torch::Tensor x = image_to_tensor(input, info.normalize).to(device);
          const torch::Tensor cls = torch::full({1}, int64_t(it - info.classes.begin()), torch::kLong);
          const torch::Tensor map = grad_cam(scored->model, x, scored->model.default_explain_layer(), cls)[0];
          html += " " + img_tag(thumbnail_png(cam_overlay(rgb, map, info.resize).bgr), "Grad-CAM", "");
        }
      }
    } catch (const std::exception& e) {
      html += note("(image not shown: " + std::string(e.what()) + ")");
    }
    html += "<figcaption><b>" + html_escape(printable(m.truth)) + "</b> taken for <b>" +
            html_escape(printable(m.predicted)) + "</b> (" + percent(m.probability) + ")<br>" +
            html_escape(printable(m.path)) + "</figcaption></figure>\n";
  }
  return html + "</div>\n";
}

// The checkpoint an evaluation scored (its metrics.json names it), else best.pt, else last.pt.
std::optional<LoadedCheckpoint> open_checkpoint(const RunDirectory& run, const std::string& named,
                                               const torch::Device& device, std::string& which) {
  for (const std::string& name : {named, std::string("best.pt"), std::string("last.pt")}) {
    if (name.empty() || !run.has(run.file(name))) continue;
    try {
      LoadedCheckpoint ckpt = load_checkpoint(run.file(name), device);
      ckpt.model.train(false);
      which = name;
      return ckpt;
    } catch (const std::exception& e) {
      spdlog::warn("report: {} could not be loaded ({})", run.file(name), e.what());
    }
  }
  return std::nullopt;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  return out;
}

std::string base64(const std::vector<unsigned char>& bytes) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = uint32_t(bytes[i]) << 16 | (i + 1 < bytes.size() ? uint32_t(bytes[i + 1]) << 8 : 0) |
                       (i + 2 < bytes.size() ? uint32_t(bytes[i + 2]) : 0);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += i + 1 < bytes.size() ? kAlphabet[n >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::vector<std::string> parse_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::string write_run_report(const std::string& run_dir, const torch::Device& device) {
  const RunDirectory run(run_dir);
  const std::optional<Json> config = read_json_file(run.config());
  const std::optional<Json> history_json = read_json_file(run.history_json());
  if (!config && !history_json && !run.has(run.best()) && !run.has(run.last()))
    throw DataError("'" + printable(run_dir) +
                    "' holds no tl-train run (no config.json, history.json or checkpoint); give a train.out folder");
  std::vector<EpochRecord> history;
  if (history_json) try {
      history = history_from_json(*history_json);
    } catch (const std::exception& e) {
      spdlog::warn("report: {} is unreadable ({})", run.history_json(), e.what());
    }

  // The evaluation shown: the test split's, else a validation evaluation's.
  std::string eval_dir;
  std::optional<Json> metrics;
  for (const char* split : {"test", "val"})
    if (!metrics && (metrics = read_json_file(run.eval_dir(split) + "/metrics.json"))) eval_dir = run.eval_dir(split);
  std::string which;
  std::optional<LoadedCheckpoint> ckpt =
      open_checkpoint(run, metrics ? metrics->value("checkpoint", std::string()) : "", device, which);

  const std::string name = config ? config->value("name", fs::path(run_dir).filename().string())
                                  : fs::path(run_dir).filename().string();
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>tl-train report: " +
                     html_escape(name) + "</title>\n<style>" + kStyle + "</style></head><body>\n";
  html += "<header><h1>Run report: " + html_escape(name) + "</h1><p>" + html_escape(printable(run_dir)) +
          (config ? " &middot; " + html_escape(config->value("/model/backbone"_json_pointer, std::string())) : "") +
          " &middot; tl-train " + TL_VERSION + "</p></header>\n<main>\n";

  // Key figures.
  html += "<div class=\"cards\">";
  if (metrics) {
    const std::string split = eval_dir == run.eval_dir("test") ? "Test" : "Validation";
    html += card(split + " accuracy", percent(metrics->value("accuracy", NAN)));
    html += card(split + " loss", cell(metrics->value("loss", NAN), 4));
    html += card("Images scored", with_commas(metrics->value("total", int64_t(0))));
  }
  if (!history.empty()) {
    const auto best = std::max_element(history.begin(), history.end(), [](const EpochRecord& a, const EpochRecord& b) {
      return !(b.val_acc <= a.val_acc) && std::isfinite(b.val_acc);  // NaN never wins
    });
    html += card("Epochs trained", std::to_string(history.size()));
    if (std::isfinite(best->val_acc))
      html += card("Best validation accuracy (epoch " + std::to_string(best->epoch) + ")", percent(best->val_acc));
  }
  html += "</div>\n";

  html += "<h2>Training curves</h2>\n";
  html += history.empty() ? note("No history.json yet: the run has not finished an epoch.")
                          : img_tag(render_curves_png(history), "training curves", "plot");

  html += "<h2>Evaluation</h2>\n";
  if (metrics) {
    html += "<p>" + html_escape(metrics->value("split", std::string("test"))) + " split, " +
            html_escape(metrics->value("checkpoint", std::string("?"))) + " (epoch " +
            std::to_string(metrics->value("epoch", 0)) + "): accuracy <b>" + percent(metrics->value("accuracy", NAN)) +
            "</b>, " + with_commas(metrics->value("correct", int64_t(0))) + " of " +
            with_commas(metrics->value("total", int64_t(0))) + " correct, mean loss " +
            cell(metrics->value("loss", NAN), 4) + ".</p>\n";
    html += img_tag(confusion_png(eval_dir, *metrics), "confusion matrix", "plot") + "\n";
    html += "<h3>Per class</h3>\n" + per_class_table(*metrics);
    html += "<h3>Worst mistakes</h3>\n" + mistakes_section(eval_dir, ckpt, device);
  } else {
    html += note("No evaluation in the run directory (eval_test/ or eval_val/); make one with: tl-train evaluate "
                 "--checkpoint " + run.best() + " --split val --out " + run.eval_dir("val"));
  }

  html += "<h2>Dataset</h2>\n" + dataset_section(read_json_file(run.split()));
  html += "<h2>Model</h2>\n" + model_section(ckpt, which);
  html += "<h2>Configuration</h2>\n";
  html += config ? "<pre>" + html_escape(dump_json(*config, 2)) + "</pre>\n" : note("No config.json in the run directory.");
  html += "<p class=\"note\">Made by tl-train " + std::string(TL_VERSION) + " from the files in " +
          html_escape(printable(run_dir)) + "; self-contained: nothing is fetched when it is opened.</p>\n";
  html += "</main></body></html>\n";

  const std::string out = run.report();
  write_file_atomic(out, html);
  return out;
}

}  // namespace tl
