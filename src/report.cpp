#include "tl/report.h"

#include "tl/json.h"
#include "tl/text_render.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace tl {
namespace {

// ---- drawing helpers ----

const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kInk(40, 40, 40);
const cv::Scalar kMuted(100, 100, 100);
const cv::Scalar kFrame(150, 150, 150);
const cv::Scalar kGrid(232, 232, 232);

enum class Align { left, centre, right };

// All text goes through text_renderer(): FreeType with a CJK-capable font (see text_render.h).
TextExtent text_size(const std::string& s, double scale, int thickness = 1) {
  return text_renderer().measure(s, scale, thickness);
}

// Draws `s` with the middle of its capitals at height y (text is anchored at its baseline).
void draw_text(cv::Mat& img, const std::string& s, cv::Point at, double scale, const cv::Scalar& colour,
               Align align = Align::left, int thickness = 1) {
  const TextExtent size = text_size(s, scale, thickness);
  const int x = align == Align::left ? at.x : align == Align::centre ? at.x - size.width / 2 : at.x - size.width;
  text_renderer().draw(img, s, {x, at.y + size.cap_height / 2}, scale, colour, thickness);
}

// Draws `s` reading bottom to top, its last letter at `top`, the capitals centred on column x.
// OpenCV cannot rotate text, so it is drawn into a strip that is rotated and darkened in.
void draw_text_vertical(cv::Mat& img, const std::string& s, int x, int top, double scale, const cv::Scalar& colour) {
  const TextExtent size = text_size(s, scale);
  const int baseline = size.ascent + 1;
  cv::Mat strip(baseline + size.descent + 1, size.width + 2, img.type(), kWhite);
  text_renderer().draw(strip, s, {1, baseline}, scale, colour);
  cv::rotate(strip, strip, cv::ROTATE_90_COUNTERCLOCKWISE);  // the strip's top row becomes its left column
  const cv::Rect target(x - (baseline - size.cap_height / 2), top, strip.cols, strip.rows);
  const cv::Rect visible = target & cv::Rect(0, 0, img.cols, img.rows);
  if (visible.empty()) return;
  cv::Mat dst = img(visible);
  // min() keeps neighbouring labels intact where small cells make the strips overlap.
  cv::min(dst, strip(visible - target.tl()), dst);
}

// OpenCV's sub-pixel drawing: coordinates with 4 fractional bits give smooth anti-aliased lines.
constexpr int kShift = 4;
cv::Point subpixel(double x, double y) { return {cvRound(x * (1 << kShift)), cvRound(y * (1 << kShift))}; }

// ---- training curves ----

const cv::Scalar kTrainColour(180, 119, 31);  // matplotlib's default blue and orange (BGR)
const cv::Scalar kValColour(14, 127, 255);
constexpr int kCurvesWidth = 1000, kCurvesHeight = 420, kCurvesHeader = 40;
constexpr size_t kMarkerLimit = 40;  // beyond this many epochs markers would blur the line

struct Series {
  std::string label;
  cv::Scalar colour;
  std::vector<double> values;  // one per epoch; NaN where missing
};

// The smallest 1, 2 or 5 times a power of ten that is >= raw.
double nice_step(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * power >= raw * (1 - 1e-9)) return m * power;
  return 10 * power;
}

struct Ticks {
  double lo, hi, step;  // ticks at lo, lo + step, ..., hi
  int count() const { return static_cast<int>(std::lround((hi - lo) / step)) + 1; }
  double at(int i) const { return lo + i * step; }
};

// Round limits covering [lo, hi] with about five ticks.
Ticks nice_ticks(double lo, double hi) {
  if (!(hi > lo)) {  // one value: open a window around it, not below 0 for non-negative data
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    hi = lo + pad;
    lo = lo >= 0 ? std::max(0.0, lo - pad) : lo - pad;
  }
  const double step = nice_step((hi - lo) / 4);
  return {std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step, step};
}

// `v` with as many decimals as the tick step needs (0.05 -> 2, 0.2 -> 1, 5 -> 0).
std::string tick_label(double v, double step) {
  int decimals = 0;
  for (double s = step; decimals < 6 && std::abs(s - std::round(s)) > 1e-6 * s; s *= 10) ++decimals;
  if (std::abs(v) < step * 1e-6) v = 0;  // no "-0.00"
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Where a panel puts data points, for marks drawn after it.
struct PanelMap {
  cv::Rect plot;
  int pad = 0;
  double x_lo = 0, x_hi = 1;
  Ticks y{0, 1, 1};
  double px(double x) const { return plot.x + pad + (x - x_lo) / (x_hi - x_lo) * (plot.width - 2 * pad); }
  double py(double v) const { return plot.y + plot.height - pad - (v - y.lo) / (y.hi - y.lo) * (plot.height - 2 * pad); }
};

// One line chart. With `decades`, xs are log10 values and the ticks read 1e-7, 1e-6, ...
PanelMap draw_panel(cv::Mat& img, cv::Rect panel, const std::string& title, const std::vector<double>& epochs,
                    const std::vector<Series>& series, const std::string& x_label = "Epoch", bool decades = false) {
  const cv::Rect plot(panel.x + 64, panel.y + 34, panel.width - 84, panel.height - 86);
  const int pad = 10;  // keeps points at the ends of the data off the frame

  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (lo > hi) {  // nothing to plot
    lo = 0;
    hi = 1;
  }
  const Ticks y = nice_ticks(lo, hi);

  double x_lo = epochs.empty() ? 1 : *std::min_element(epochs.begin(), epochs.end());
  double x_hi = epochs.empty() ? 1 : *std::max_element(epochs.begin(), epochs.end());
  if (x_hi - x_lo < 1) {  // one epoch: centre it
    x_lo -= 0.5;
    x_hi += 0.5;
  }
  const double x_step = std::max(1.0, nice_step((x_hi - x_lo) / 8));
  const Ticks x{std::ceil(x_lo / x_step) * x_step, std::floor(x_hi / x_step) * x_step, x_step};

  const PanelMap map{plot, pad, x_lo, x_hi, y};
  auto px = [&](double epoch) { return map.px(epoch); };
  auto py = [&](double v) { return map.py(v); };

  for (int i = 0; i < y.count(); ++i) {
    const int row = cvRound(py(y.at(i)));
    cv::line(img, {plot.x + 1, row}, {plot.x + plot.width - 1, row}, kGrid, 1);
    draw_text(img, tick_label(y.at(i), y.step), {plot.x - 8, row}, 0.42, kMuted, Align::right);
  }
  for (int i = 0; i < x.count(); ++i) {
    const int column = cvRound(px(x.at(i)));
    cv::line(img, {column, plot.y + 1}, {column, plot.y + plot.height - 1}, kGrid, 1);
    const std::string label = decades ? "1e" + tick_label(x.at(i), 1) : tick_label(x.at(i), 1);
    draw_text(img, label, {column, plot.y + plot.height + 14}, 0.42, kMuted, Align::centre);
  }
  cv::rectangle(img, plot, kFrame, 1);
  draw_text(img, title, {plot.x + plot.width / 2, panel.y + 16}, 0.62, kInk, Align::centre);
  draw_text(img, x_label, {plot.x + plot.width / 2, plot.y + plot.height + 38}, 0.48, kInk, Align::centre);

  for (const auto& s : series) {
    const size_t n = std::min(s.values.size(), epochs.size());
    auto finite = [&](size_t i) { return i < n && std::isfinite(s.values[i]); };
    for (size_t i = 0; i < n; ++i) {
      if (!finite(i)) continue;  // NaN breaks the line, like matplotlib
      const cv::Point p = subpixel(px(epochs[i]), py(s.values[i]));
      if (finite(i + 1))
        cv::line(img, p, subpixel(px(epochs[i + 1]), py(s.values[i + 1])), s.colour, 2, cv::LINE_AA, kShift);
      const bool isolated = !finite(i + 1) && (i == 0 || !finite(i - 1));
      if (n <= kMarkerLimit || isolated) cv::circle(img, p, 3 << kShift, s.colour, cv::FILLED, cv::LINE_AA, kShift);
    }
  }
  return map;
}

// Legend entries (line sample, label) right-aligned to x_right, centred on height y.
void draw_legend(cv::Mat& img, int x_right, int y, const std::vector<Series>& series) {
  const int sample = 26, gap = 8, spacing = 22;
  int width = 0;
  for (const auto& s : series) width += sample + gap + text_size(s.label, 0.5).width + spacing;
  int x = x_right - width + spacing;
  for (const auto& s : series) {
    cv::line(img, {x, y}, {x + sample, y}, s.colour, 2, cv::LINE_AA);
    cv::circle(img, {x + sample / 2, y}, 3, s.colour, cv::FILLED, cv::LINE_AA);
    x += sample + gap;
    draw_text(img, s.label, {x, y}, 0.5, kInk);
    x += text_size(s.label, 0.5).width + spacing;
  }
}

std::vector<unsigned char> encode_png(const cv::Mat& img) {
  std::vector<unsigned char> png;
  if (!cv::imencode(".png", img, png)) throw std::runtime_error("OpenCV could not encode a PNG");
  return png;
}

bool any_finite(const std::vector<double>& values) {
  return std::any_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// ---- confusion matrix ----

// matplotlib's "Blues" colour map (RGB stops), white to dark blue.
const unsigned char kBlues[9][3] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239}, {158, 202, 225}, {107, 174, 214},
                                    {66, 146, 198},  {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};

cv::Scalar blues(double v) {
  const double x = std::clamp(v, 0.0, 1.0) * 8;
  const int i = std::min(7, static_cast<int>(x));
  const double f = x - i;
  auto mix = [&](int c) { return kBlues[i][c] * (1 - f) + kBlues[i + 1][c] * f; };
  return {mix(2), mix(1), mix(0)};  // BGR
}

constexpr int kGridBudget = 2000;  // px for all K x K cells: the image stays under ~2400 px
constexpr int kMaxCell = 60;
constexpr int kMinLabelledCell = 7;  // smaller cells would make the class names overlap
constexpr int kMinCountCell = 18;
constexpr double kMinFontScale = 0.3;  // Hershey text below this is unreadable
constexpr int kMaxLabelPx = 220;       // longer class names are abbreviated
constexpr int kMargin = 16, kLabelGap = 6, kAxisTitle = 30, kTitleHeight = 70;
constexpr double kTitleScale = 0.75, kSubtitleScale = 0.45, kAxisTitleScale = 0.55;

double label_scale(int cell) { return std::clamp((cell - 2) / 30.0, kMinFontScale, 0.5); }

// The largest scale (up to 0.5) at which every count fits its cell with a margin.
double count_scale(const ConfusionMatrix& cm, int cell) {
  int64_t most = 0;
  const auto k = static_cast<int64_t>(cm.classes().size());
  for (int64_t t = 0; t < k; ++t)
    for (int64_t p = 0; p < k; ++p) most = std::max(most, cm.at(t, p));
  const TextExtent unit = text_size(std::to_string(most), 1.0);
  return std::min({0.5, (cell - 6.0) / unit.width, cell * 0.4 / unit.cap_height});
}

// Class names shortened with ".." until they fit kMaxLabelPx at `scale`, cut between whole
// characters (a cut inside a UTF-8 sequence would draw as \xXX).
std::vector<std::string> fitted_labels(const std::vector<std::string>& names, double scale) {
  std::vector<std::string> labels;
  for (const auto& name : names) {
    const std::string full = printable(name);  // valid UTF-8 from here on
    std::string label = full;
    for (size_t keep = full.size(); text_size(label, scale).width > kMaxLabelPx;) {
      while (keep > 0 && (static_cast<unsigned char>(full[--keep]) & 0xC0) == 0x80) {
      }
      if (keep == 0) break;
      label = full.substr(0, keep) + "..";
    }
    labels.push_back(label);
  }
  return labels;
}

std::string subtitle(const ConfusionMatrix& cm) {
  char text[96];
  std::snprintf(text, sizeof text, "%lld samples, accuracy %.2f%%, colour = share of row",
                static_cast<long long>(cm.total()), 100 * cm.accuracy());
  return text;
}

}  // namespace

std::vector<unsigned char> render_curves_png(const std::vector<EpochRecord>& history) {
  std::vector<double> epochs;
  Series acc{"train", kTrainColour, {}}, val_acc{"validation", kValColour, {}};
  Series loss{"train", kTrainColour, {}}, val_loss{"validation", kValColour, {}};
  for (const auto& r : history) {
    epochs.push_back(r.epoch);
    acc.values.push_back(r.acc);
    val_acc.values.push_back(r.val_acc);
    loss.values.push_back(r.loss);
    val_loss.values.push_back(r.val_loss);
  }

  cv::Mat img(kCurvesHeight, kCurvesWidth, CV_8UC3, kWhite);
  const int half = kCurvesWidth / 2, panel_height = kCurvesHeight - kCurvesHeader;
  draw_panel(img, {0, kCurvesHeader, half, panel_height}, "Accuracy", epochs, {acc, val_acc});
  draw_panel(img, {half, kCurvesHeader, half, panel_height}, "Loss", epochs, {loss, val_loss});

  std::string title =
      "Training history: " + std::to_string(history.size()) + (history.size() == 1 ? " epoch" : " epochs");
  const EpochRecord* best = nullptr;
  for (const auto& r : history)
    if (std::isfinite(r.val_acc) && (!best || r.val_acc > best->val_acc)) best = &r;
  if (best) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ", best validation accuracy %.4f at epoch %d", best->val_acc, best->epoch);
    title += buf;
  }
  draw_text(img, title, {64, kCurvesHeader / 2 + 2}, 0.55, kMuted);

  std::vector<Series> legend;
  if (any_finite(acc.values) || any_finite(loss.values)) legend.push_back(acc);
  if (any_finite(val_acc.values) || any_finite(val_loss.values)) legend.push_back(val_acc);
  draw_legend(img, kCurvesWidth - 20, kCurvesHeader / 2 + 2, legend);
  return encode_png(img);
}

ConfusionLayout confusion_layout(const ConfusionMatrix& cm) {
  const int k = static_cast<int>(cm.classes().size());
  ConfusionLayout layout;
  layout.cell = std::clamp(kGridBudget / std::max(k, 1), 1, kMaxCell);
  layout.show_counts = layout.cell >= kMinCountCell && count_scale(cm, layout.cell) >= kMinFontScale;
  int label_px = 0;
  if (layout.cell >= kMinLabelledCell) {
    const double scale = label_scale(layout.cell);
    for (const auto& label : fitted_labels(cm.classes(), scale))
      label_px = std::max(label_px, text_size(label, scale).width);
  }
  const int grid = k * layout.cell;
  layout.left = kMargin + kAxisTitle + label_px + kLabelGap;
  layout.top = kTitleHeight;
  layout.width = layout.left + grid + kMargin;
  // Few classes: widen to fit the subtitle, keeping the grid in the middle.
  const int extra = text_size(subtitle(cm), kSubtitleScale).width + 2 * kMargin - layout.width;
  if (extra > 0) {
    layout.width += extra;
    layout.left += extra / 2;
  }
  layout.height = layout.top + grid + kLabelGap + label_px + kAxisTitle + kMargin;
  return layout;
}

std::vector<unsigned char> render_confusion_png(const ConfusionMatrix& cm) {
  const ConfusionLayout layout = confusion_layout(cm);
  const int k = static_cast<int>(cm.classes().size()), cell = layout.cell, grid = k * cell;
  cv::Mat img(layout.height, layout.width, CV_8UC3, kWhite);

  const double counts_at = count_scale(cm, cell);
  for (int t = 0; t < k; ++t) {
    int64_t row_total = 0;
    for (int p = 0; p < k; ++p) row_total += cm.at(t, p);
    for (int p = 0; p < k; ++p) {
      const int64_t count = cm.at(t, p);
      const double share = row_total > 0 ? static_cast<double>(count) / row_total : 0.0;
      const cv::Rect square(layout.left + p * cell, layout.top + t * cell, cell, cell);
      cv::rectangle(img, square, blues(share), cv::FILLED);
      if (!layout.show_counts) continue;
      // Zeros are faint so the errors stand out; dark cells get white digits.
      const cv::Scalar colour = count == 0 ? cv::Scalar(190, 190, 190) : share > 0.5 ? kWhite : kInk;
      draw_text(img, std::to_string(count), {square.x + cell / 2, square.y + cell / 2}, counts_at, colour,
                Align::centre);
    }
  }
  cv::rectangle(img, {layout.left - 1, layout.top - 1, grid + 2, grid + 2}, kFrame, 1);

  int label_px = 0;
  if (cell >= kMinLabelledCell) {
    const double scale = label_scale(cell);
    const auto labels = fitted_labels(cm.classes(), scale);
    for (int c = 0; c < k; ++c) {
      draw_text(img, labels[c], {layout.left - kLabelGap, layout.top + c * cell + cell / 2}, scale, kInk, Align::right);
      draw_text_vertical(img, labels[c], layout.left + c * cell + cell / 2, layout.top + grid + kLabelGap, scale, kInk);
      label_px = std::max(label_px, text_size(labels[c], scale).width);
    }
  }

  const int grid_centre_x = layout.left + grid / 2, grid_centre_y = layout.top + grid / 2;
  draw_text(img, "Predicted label", {grid_centre_x, layout.top + grid + kLabelGap + label_px + kAxisTitle / 2},
            kAxisTitleScale, kInk, Align::centre);
  const std::string true_label = "True label";
  draw_text_vertical(img, true_label, layout.left - kLabelGap - label_px - kAxisTitle / 2,
                     grid_centre_y - text_size(true_label, kAxisTitleScale).width / 2, kAxisTitleScale, kInk);

  // Title and subtitle centred over the grid, kept inside the image.
  auto centred = [&](const std::string& s, double scale, int thickness) {
    const int half = text_size(s, scale, thickness).width / 2;
    return std::clamp(grid_centre_x, kMargin + half, layout.width - kMargin - half);
  };
  const std::string title = "Confusion matrix", note = subtitle(cm);
  draw_text(img, title, {centred(title, kTitleScale, 2), 24}, kTitleScale, kInk, Align::centre, 2);
  draw_text(img, note, {centred(note, kSubtitleScale, 1), 50}, kSubtitleScale, kMuted, Align::centre);
  return encode_png(img);
}

std::vector<unsigned char> render_lr_find_png(const std::vector<double>& lrs, const std::vector<double>& losses,
                                              const std::vector<double>& smoothed, double suggested) {
  std::vector<double> decades;
  for (double lr : lrs) decades.push_back(std::log10(lr));
  // The last steps diverge, by orders of magnitude: the y range is the smoothed loss's before the
  // last 5 points (what the suggestion looks at), and points far above it are left out.
  double top = 0;
  for (size_t i = 0; i < smoothed.size(); ++i)
    if (std::isfinite(smoothed[i]) && (i + 5 < smoothed.size() || top == 0)) top = std::max(top, smoothed[i]);
  Series raw{"loss", kTrainColour, losses}, smooth{"smoothed", kValColour, smoothed};
  for (Series* s : {&raw, &smooth})
    for (double& v : s->values)
      if (v > 1.5 * top) v = std::numeric_limits<double>::quiet_NaN();
  cv::Mat img(kCurvesHeight + 60, kCurvesWidth * 3 / 4, CV_8UC3, kWhite);
  const PanelMap map = draw_panel(img, {0, kCurvesHeader, img.cols, img.rows - kCurvesHeader}, "Learning-rate range test",
                                  decades, {raw, smooth}, "Learning rate (log scale)", true);
  std::string title = "No suggestion: too few steps";
  if (std::isfinite(suggested)) {
    const double x = std::log10(suggested);
    const int column = cvRound(map.px(x));
    cv::line(img, {column, map.plot.y + 1}, {column, map.plot.y + map.plot.height - 1}, cv::Scalar(40, 39, 214), 1,
             cv::LINE_AA);
    for (size_t i = 0; i < decades.size(); ++i)
      if (std::abs(decades[i] - x) < 1e-12)
        cv::circle(img, subpixel(map.px(x), map.py(smoothed[i])), 6 << kShift, cv::Scalar(40, 39, 214), cv::FILLED,
                   cv::LINE_AA, kShift);
    char buf[64];
    std::snprintf(buf, sizeof buf, "Suggested learning rate: %.2e (red)", suggested);
    title = buf;
  }
  draw_text(img, title, {64, kCurvesHeader / 2 + 2}, 0.5, kMuted);
  draw_legend(img, img.cols - 20, kCurvesHeader / 2 + 2, {raw, smooth});
  return encode_png(img);
}

}  // namespace tl
