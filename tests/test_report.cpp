#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tl/report.h"
#include "tl/text_render.h"

namespace {

using tl::ConfusionMatrix;
using tl::EpochRecord;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<EpochRecord> sample_history(int epochs) {
  std::vector<EpochRecord> history;
  for (int e = 1; e <= epochs; ++e)
    history.push_back({e, 1.5 / e + 0.1, 0.9 - 0.4 / e, 1.7 / e + 0.3, 0.8 - 0.35 / e, 1e-3 / e, 12.5 + e / 3.0});
  return history;
}

cv::Mat decode(const std::vector<unsigned char>& png) {
  cv::Mat img = cv::imdecode(png, cv::IMREAD_COLOR);
  EXPECT_FALSE(img.empty()) << "not a decodable image";
  return img;
}

// Pixels within `tolerance` per channel of `bgr`.
int count_near(const cv::Mat& img, cv::Vec3b bgr, int tolerance = 40) {
  int n = 0;
  for (auto it = img.begin<cv::Vec3b>(); it != img.end<cv::Vec3b>(); ++it) {
    const cv::Vec3b& p = *it;
    if (std::abs(p[0] - bgr[0]) <= tolerance && std::abs(p[1] - bgr[1]) <= tolerance &&
        std::abs(p[2] - bgr[2]) <= tolerance)
      ++n;
  }
  return n;
}
const cv::Vec3b kBlue(180, 119, 31), kOrange(14, 127, 255);

std::vector<std::string> class_names(int k) {
  std::vector<std::string> names;
  for (int i = 0; i < k; ++i) names.push_back("class_" + std::to_string(i));
  return names;
}

void add_n(ConfusionMatrix& cm, int truth, int predicted, int n) {
  for (int i = 0; i < n; ++i) cm.add(truth, predicted);
}

// The cell (truth, predicted) whose sample point is darkest; (dx, dy) offsets the point from the
// cell's top-left corner.
std::pair<int, int> darkest_cell(const cv::Mat& img, const tl::ConfusionLayout& layout, int k, int dx, int dy) {
  std::pair<int, int> best{-1, -1};
  int darkest = 3 * 256;
  for (int t = 0; t < k; ++t) {
    for (int p = 0; p < k; ++p) {
      const cv::Vec3b px = img.at<cv::Vec3b>(layout.top + t * layout.cell + dy, layout.left + p * layout.cell + dx);
      const int brightness = px[0] + px[1] + px[2];
      if (brightness < darkest) {
        darkest = brightness;
        best = {t, p};
      }
    }
  }
  return best;
}

void expect_same(double a, double b) {
  if (std::isnan(a))
    EXPECT_TRUE(std::isnan(b));
  else
    EXPECT_EQ(a, b);  // exact: no rounding on the way
}

TEST(Report, HistoryJsonRoundTripIsExact) {
  std::vector<EpochRecord> history = sample_history(3);
  history[1].val_loss = kNaN;  // no validation that epoch
  history[2].lr = 1.0 / 3;
  history[2].seconds = 1e-300;
  const std::string text = tl::history_to_json(history).dump();
  const auto back = tl::history_from_json(tl::Json::parse(text));
  ASSERT_EQ(back.size(), history.size());
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(back[i].epoch, history[i].epoch);
    expect_same(back[i].loss, history[i].loss);
    expect_same(back[i].acc, history[i].acc);
    expect_same(back[i].val_loss, history[i].val_loss);
    expect_same(back[i].val_acc, history[i].val_acc);
    expect_same(back[i].lr, history[i].lr);
    expect_same(back[i].seconds, history[i].seconds);
  }
  EXPECT_TRUE(tl::history_to_json(history)[1]["val_loss"].is_null());
}

TEST(Report, HistoryFromJsonRejectsMalformedInput) {
  EXPECT_THROW(tl::history_from_json(tl::Json::object()), std::invalid_argument);
  tl::Json json = tl::history_to_json(sample_history(2));
  json[1].erase("val_acc");
  try {
    tl::history_from_json(json);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("val_acc"), std::string::npos) << e.what();
  }
}

TEST(Report, HistoryCsvHeaderAndRoundTrippingRow) {
  std::vector<EpochRecord> history = sample_history(2);
  history[1] = {2, 0.1, 1.0 / 3, kNaN, 0.875, 3e-4, 61.25};
  std::istringstream in(tl::history_to_csv(history));
  std::string header, row1, row2, extra;
  std::getline(in, header);
  std::getline(in, row1);
  std::getline(in, row2);
  EXPECT_EQ(header, "epoch,loss,acc,val_loss,val_acc,lr,seconds");
  EXPECT_EQ(row2, "2,0.1,0.3333333333333333,nan,0.875,0.0003,61.25");
  EXPECT_FALSE(std::getline(in, extra));

  std::vector<double> values;
  std::stringstream fields(row1);
  for (std::string f; std::getline(fields, f, ',');) values.push_back(std::strtod(f.c_str(), nullptr));
  ASSERT_EQ(values.size(), 7u);
  const EpochRecord& r = history[0];
  const double expected[] = {1, r.loss, r.acc, r.val_loss, r.val_acc, r.lr, r.seconds};
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(values[i], expected[i]) << "column " << i;
}

TEST(Report, CurvesPngHasExpectedSizeAndBothSeries) {
  const cv::Mat img = decode(tl::render_curves_png(sample_history(10)));
  EXPECT_EQ(img.cols, 1000);
  EXPECT_EQ(img.rows, 420);
  EXPECT_GT(count_near(img, cv::Vec3b(255, 255, 255), 0), img.total() / 2) << "white background";
  EXPECT_GT(count_near(img, kBlue), 500) << "train curves";
  EXPECT_GT(count_near(img, kOrange), 500) << "validation curves";
}

TEST(Report, CurvesPngWithOneEpochShowsPoints) {
  const cv::Mat img = decode(tl::render_curves_png(sample_history(1)));
  EXPECT_EQ(img.cols, 1000);
  // Two markers per colour (accuracy, loss) plus the legend sample.
  EXPECT_GT(count_near(img, kBlue), 40);
  EXPECT_GT(count_near(img, kOrange), 40);
}

TEST(Report, CurvesPngSkipsNaNAndMissingValidation) {
  std::vector<EpochRecord> history = sample_history(6);
  for (auto& r : history) r.val_loss = r.val_acc = kNaN;
  history[2].loss = kNaN;
  const cv::Mat img = decode(tl::render_curves_png(history));
  EXPECT_GT(count_near(img, kBlue), 300);
  EXPECT_EQ(count_near(img, kOrange, 20), 0) << "no validation data, no validation legend";
  EXPECT_NO_THROW(decode(tl::render_curves_png({})));
}

TEST(Report, ConfusionPngGrowsWithClassesAndIsCapped) {
  int previous_width = 0;
  for (int k : {3, 11, 101, 1000}) {
    SCOPED_TRACE(k);
    ConfusionMatrix cm(class_names(k));
    for (int c = 0; c < k; ++c) cm.add(c, (c * 7) % k);
    const auto layout = tl::confusion_layout(cm);
    const cv::Mat img = decode(tl::render_confusion_png(cm));
    EXPECT_EQ(img.cols, layout.width);
    EXPECT_EQ(img.rows, layout.height);
    EXPECT_GT(img.cols, previous_width);
    EXPECT_LE(img.cols, 2400);
    EXPECT_LE(img.rows, 2400);
    EXPECT_LE(layout.left + k * layout.cell, img.cols);
    EXPECT_LE(layout.top + k * layout.cell, img.rows);
    previous_width = img.cols;
  }
  EXPECT_TRUE(tl::confusion_layout(ConfusionMatrix(class_names(11))).show_counts);
  EXPECT_GE(tl::confusion_layout(ConfusionMatrix(class_names(11))).cell, 40);
  EXPECT_FALSE(tl::confusion_layout(ConfusionMatrix(class_names(200))).show_counts);
}

TEST(Report, ConfusionPngDarkestCellHoldsLargestCountFewClasses) {
  // Each row: 10 right, 5 to the next class; row 3 is all 40 predicted as class 1 (share 1.0).
  ConfusionMatrix cm(class_names(5));
  for (int t = 0; t < 5; ++t) {
    if (t == 3) continue;
    add_n(cm, t, t, 10);
    add_n(cm, t, (t + 1) % 5, 5);
  }
  add_n(cm, 3, 1, 40);
  const auto layout = tl::confusion_layout(cm);
  ASSERT_TRUE(layout.show_counts);
  // Counts are printed in the middle of each cell: sample near the corner instead.
  const cv::Mat img = decode(tl::render_confusion_png(cm));
  EXPECT_EQ(darkest_cell(img, layout, 5, 3, 3), std::make_pair(3, 1));
}

TEST(Report, ConfusionPngDarkestCellHoldsLargestCountManyClasses) {
  const int k = 120;
  ConfusionMatrix cm(class_names(k));
  for (int t = 0; t < k; ++t) {
    if (t == 77) continue;
    add_n(cm, t, t, 3);
    add_n(cm, t, (t + 1) % k, 2);
  }
  add_n(cm, 77, 5, 9);
  const auto layout = tl::confusion_layout(cm);
  ASSERT_FALSE(layout.show_counts);
  const cv::Mat img = decode(tl::render_confusion_png(cm));
  EXPECT_EQ(darkest_cell(img, layout, k, layout.cell / 2, layout.cell / 2), std::make_pair(77, 5));
}

// Renders a 2-class matrix with `names` (the same counts whatever the names) and returns its
// row-label region: left of the grid, the height of both rows.
cv::Mat row_labels(const std::vector<std::string>& names, tl::ConfusionLayout* layout_out = nullptr) {
  ConfusionMatrix cm(names);
  add_n(cm, 0, 0, 3);
  add_n(cm, 1, 1, 3);
  const auto layout = tl::confusion_layout(cm);
  if (layout_out) *layout_out = layout;
  const cv::Mat img = decode(tl::render_confusion_png(cm));
  return img(cv::Rect(0, layout.top, layout.left, 2 * layout.cell)).clone();
}

int ink_pixels(const cv::Mat& region) { return count_near(region, {40, 40, 40}, 60); }

// Two names of the same length must not look alike: Hershey drew both "猫咪" and "狗狗" as "??????".
void expect_names_drawn_distinctly(const std::string& a, const std::string& b) {
  tl::ConfusionLayout ab, ba;
  const cv::Mat first = row_labels({a, b}, &ab), swapped = row_labels({b, a}, &ba);
  ASSERT_EQ(ab.left, ba.left);
  ASSERT_EQ(ab.cell, ba.cell);
  EXPECT_GT(ink_pixels(first), 20) << "no text drawn left of the grid";
  EXPECT_GT(cv::norm(first, swapped, cv::NORM_L1), 255.0 * 20) << "swapping the names changed no pixel";
}

TEST(Report, FontForUtf8TextIsLoaded) {
  EXPECT_TRUE(tl::text_renderer().has_font())
      << "no font: install fonts-wqy-microhei (" << tl::kDefaultFontFile << ") or set TL_FONT";
}

TEST(Report, ConfusionPngDrawsCjkNamesDistinctly) { expect_names_drawn_distinctly("猫咪", "狗狗"); }

TEST(Report, ConfusionPngDrawsLatinNames) { expect_names_drawn_distinctly("cat", "dog"); }

TEST(Report, CjkTextIsMeasuredByGlyphs) {
  // Hershey measured bytes: 6 '?' for two CJK characters, wider than 4 Latin letters.
  const auto& text = tl::text_renderer();
  ASSERT_TRUE(text.has_font());
  EXPECT_LT(text.measure("猫咪", 0.5).width, text.measure("??????", 0.5).width);
  EXPECT_GT(text.measure("猫咪", 0.5).width, text.measure("猫", 0.5).width);
}

TEST(Report, InvalidUtf8NamesAreDrawnEscaped) {
  const std::string bad = "bad\xff\xfe";
  const auto& text = tl::text_renderer();
  EXPECT_EQ(text.measure(bad, 0.5).width, text.measure("bad\\xff\\xfe", 0.5).width);
  cv::Mat img(40, 200, CV_8UC3, cv::Scalar::all(255));
  text.draw(img, bad, {5, 30}, 0.5, {0, 0, 0});
  EXPECT_GT(count_near(img, {0, 0, 0}, 100), 20);
  EXPECT_GT(ink_pixels(row_labels({bad, "\xe7\x8c"})), 20);  // a cut-off CJK character too
}

TEST(Report, LongCjkNamesAreShortenedBetweenCharacters) {
  std::string long_name;
  for (int i = 0; i < 100; ++i) long_name += "猫";
  tl::ConfusionLayout layout;
  const cv::Mat labels = row_labels({long_name, "狗"}, &layout);
  EXPECT_LT(layout.left, 400) << "the label was not shortened";
  EXPECT_GT(ink_pixels(labels), 20);
}

TEST(Report, MissingFontFallsBackToHershey) {
  const tl::TextRenderer hershey({"/nonexistent/font.ttf", "/proc/self/status", ""});
  EXPECT_FALSE(hershey.has_font());
  EXPECT_TRUE(hershey.font_file().empty());
  EXPECT_GT(hershey.measure("cat", 0.5).width, 0);
  EXPECT_GT(hershey.measure("cat", 0.5).cap_height, 0);
  cv::Mat img(40, 200, CV_8UC3, cv::Scalar::all(255));
  hershey.draw(img, "cat \xe7\x8c\xab\xff", {5, 30}, 0.5, {0, 0, 0});  // non-ASCII: '?', no crash
  EXPECT_GT(count_near(img, {0, 0, 0}, 100), 20);
}

TEST(Report, FontFileIsTheFirstThatLoads) {
  const tl::TextRenderer renderer({"/nonexistent/font.ttf", tl::kDefaultFontFile});
  EXPECT_TRUE(renderer.has_font());
  EXPECT_EQ(renderer.font_file(), tl::kDefaultFontFile);
}

}  // namespace
