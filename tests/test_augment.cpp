// Random training-time transforms: determinism, identity, and the geometry of each knob.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <regex>
#include <set>

#include <opencv2/imgproc.hpp>

#include "tl/augment.h"
#include "tl/image.h"

namespace {

cv::Mat noise(int rows, int cols) {
  cv::Mat m(rows, cols, CV_8UC3);
  cv::RNG(3).fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

cv::Mat augment(const cv::Mat& rgb, const tl::AugmentConfig& config, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return tl::augment_image(rgb, config, rng);
}

tl::AugmentConfig everything() {
  tl::AugmentConfig c;
  c.rotation_range = 30;
  c.width_shift_range = 0.1;
  c.height_shift_range = 0.1;
  c.zoom_range = 0.2;
  c.shear_range = 10;
  c.horizontal_flip = true;
  c.vertical_flip = true;
  c.brightness_range = {0.8, 1.2};
  c.crop_scale = {0.5, 1.0};
  c.color_jitter = 0.3;
  return c;
}

// Each knob on its own, then all of them together.
std::vector<tl::AugmentConfig> one_knob_each() {
  std::vector<tl::AugmentConfig> configs(10);
  configs[0].rotation_range = 45;
  configs[1].width_shift_range = 0.3;
  configs[2].height_shift_range = 0.3;
  configs[3].zoom_range = 0.5;
  configs[4].shear_range = 30;
  configs[5].horizontal_flip = true;
  configs[6].vertical_flip = true;
  configs[7].brightness_range = {0.5, 1.5};
  configs[8].crop_scale = {0.08, 1.0};
  configs[9] = everything();
  return configs;
}

cv::Mat grey_of(const cv::Mat& rgb) {
  cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  return grey;
}

TEST(Augment, IdentityConfigReturnsAnIdenticalCopy) {
  const cv::Mat rgb = noise(48, 64);
  const cv::Mat out = augment(rgb, tl::AugmentConfig{}, 1);
  EXPECT_TRUE(same(out, rgb));
  EXPECT_NE(out.data, rgb.data);
}

TEST(Augment, SameSeedSameOutputDifferentSeedDifferentOutput) {
  const cv::Mat rgb = noise(48, 64);
  EXPECT_TRUE(same(augment(rgb, everything(), 5), augment(rgb, everything(), 5)));
  EXPECT_FALSE(same(augment(rgb, everything(), 5), augment(rgb, everything(), 6)));
}

TEST(Augment, OutputSizeAlwaysEqualsInputSize) {
  for (const cv::Size size : {cv::Size(64, 48), cv::Size(17, 31), cv::Size(1, 1)}) {
    const cv::Mat rgb = noise(size.height, size.width);
    int knob = 0;
    for (const auto& config : one_knob_each()) {
      for (uint64_t seed = 0; seed < 5; ++seed) {
        const cv::Mat out = augment(rgb, config, seed);
        EXPECT_EQ(out.size(), size) << "knob " << knob << " seed " << seed;
        EXPECT_EQ(out.type(), CV_8UC3) << "knob " << knob << " seed " << seed;
      }
      ++knob;
    }
  }
}

TEST(Augment, FlipsMirrorExactlyAboutHalfTheTime) {
  const cv::Mat rgb = noise(20, 30);
  for (bool horizontal : {true, false}) {
    tl::AugmentConfig config;
    (horizontal ? config.horizontal_flip : config.vertical_flip) = true;
    cv::Mat mirrored;
    cv::flip(rgb, mirrored, horizontal ? 1 : 0);
    int flipped = 0;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      const cv::Mat out = augment(rgb, config, seed);
      EXPECT_TRUE(same(out, mirrored) || same(out, rgb)) << "seed " << seed;
      flipped += same(out, mirrored);
    }
    EXPECT_GT(flipped, 5) << horizontal;
    EXPECT_LT(flipped, 35) << horizontal;
  }
}

TEST(Augment, BrightnessRangeOfTwoDoublesAndSaturates) {
  cv::Mat rgb(1, 3, CV_8UC3);
  rgb.at<cv::Vec3b>(0, 0) = {0, 1, 2};
  rgb.at<cv::Vec3b>(0, 1) = {50, 100, 127};
  rgb.at<cv::Vec3b>(0, 2) = {128, 200, 255};
  tl::AugmentConfig config;
  config.brightness_range = {2, 2};
  const cv::Mat out = augment(rgb, config, 0);
  EXPECT_EQ(out.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 2, 4));
  EXPECT_EQ(out.at<cv::Vec3b>(0, 1), cv::Vec3b(100, 200, 254));
  EXPECT_EQ(out.at<cv::Vec3b>(0, 2), cv::Vec3b(255, 255, 255));
}

TEST(Augment, WidthShiftWithConstantFillLeavesABlackBorderOnOneSide) {
  const int width = 100;
  const cv::Mat white(60, width, CV_8UC3, cv::Scalar::all(255));
  tl::AugmentConfig config;
  config.width_shift_range = 0.2;  // up to 20 px either way
  config.fill_mode = tl::FillMode::Constant;
  int widest = 0;
  bool left = false;
  bool right = false;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    const cv::Mat grey = grey_of(augment(white, config, seed));
    // One letter per column: b(lack), w(hite) or m(ixed: blended with the border).
    std::string columns;
    for (int x = 0; x < width; ++x)
      columns += cv::countNonZero(grey.col(x)) == 0 ? 'b' : cv::countNonZero(grey.col(x) != 255) == 0 ? 'w' : 'm';
    // The black border sits at one edge, then at most one blended column, then untouched white
    // (no vertical shift, no other change).
    EXPECT_TRUE(std::regex_match(columns, std::regex("b*m?w+|w+m?b*"))) << "seed " << seed << ": " << columns;
    const int border = static_cast<int>(std::count(columns.begin(), columns.end(), 'b'));
    EXPECT_LE(border, 20) << "seed " << seed;
    widest = std::max(widest, border);
    left = left || columns.front() == 'b';
    right = right || columns.back() == 'b';
  }
  EXPECT_GE(widest, 10);  // all 30 shifts under 10 px has probability 2^-30
  EXPECT_TRUE(left);
  EXPECT_TRUE(right);

  config.fill_mode = tl::FillMode::Nearest;  // repeats the edge: never black
  for (uint64_t seed = 0; seed < 10; ++seed)
    EXPECT_EQ(cv::countNonZero(grey_of(augment(white, config, seed)) != 255), 0) << "seed " << seed;
}

TEST(Augment, RotationZoomAndShearPivotOnTheCentrePixel) {
  const cv::Mat rgb = noise(31, 31);
  tl::AugmentConfig config;
  config.rotation_range = 90;
  config.zoom_range = 0.5;
  config.shear_range = 40;
  config.fill_mode = tl::FillMode::Reflect;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const cv::Mat out = augment(rgb, config, seed);
    EXPECT_FALSE(same(out, rgb)) << "seed " << seed;
    EXPECT_EQ(out.at<cv::Vec3b>(15, 15), rgb.at<cv::Vec3b>(15, 15)) << "seed " << seed;
  }
}

cv::Mat crop(const cv::Mat& original, int64_t size, const tl::AugmentConfig& config, uint64_t seed,
             tl::Interpolation filter = tl::Interpolation::Area) {
  std::mt19937_64 rng(seed);
  return tl::random_resized_crop(original, size, config, filter, rng);
}

TEST(Augment, RandomResizedCropIsAnEnlargedSubWindow) {
  const cv::Mat rgb = noise(64, 64);
  tl::AugmentConfig config;
  config.crop_scale = {0.25, 0.25};  // a quarter of the area at ratio 1: always a 32x32 window
  config.crop_ratio = {1, 1};
  std::set<std::pair<int, int>> origins;
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const cv::Mat out = crop(rgb, 64, config, seed);
    int matches = 0;
    for (int y = 0; y <= 32; ++y) {
      for (int x = 0; x <= 32; ++x) {
        cv::Mat expected;
        cv::resize(rgb(cv::Rect(x, y, 32, 32)), expected, rgb.size(), 0, 0, cv::INTER_LINEAR);
        if (same(out, expected)) {
          ++matches;
          origins.insert({x, y});
        }
      }
    }
    EXPECT_EQ(matches, 1) << "seed " << seed;
  }
  EXPECT_GT(origins.size(), 1u);  // the window moves with the seed
}

TEST(Augment, RandomResizedCropFallsBackToTheCentre) {
  const cv::Mat rgb = noise(64, 64);
  tl::AugmentConfig config;
  config.crop_scale = {0.99, 0.99};  // at ratio 2 such a crop is wider than the image every try
  config.crop_ratio = {2, 2};
  cv::Mat expected;  // the widest 2:1 window, centred
  cv::resize(rgb(cv::Rect(0, 16, 64, 32)), expected, rgb.size(), 0, 0, cv::INTER_LINEAR);
  EXPECT_TRUE(same(crop(rgb, 64, config, 0), expected));
}

// torchvision crops the original: the window is a fraction of the original's area and has the
// drawn aspect ratio in the original's pixels, whatever the output size.
TEST(Augment, RandomResizedCropCutsTheOriginalNotTheResizedImage) {
  cv::Mat coords(200, 256, CV_8UC3);  // each pixel holds its own x and y
  for (int y = 0; y < coords.rows; ++y)
    for (int x = 0; x < coords.cols; ++x) coords.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x), uint8_t(y), 0);
  tl::AugmentConfig config;
  config.crop_scale = {0.25, 0.25};  // round(sqrt(0.25 * 256 * 200)) = 113 px square
  config.crop_ratio = {1, 1};
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const cv::Mat out = crop(coords, 16, config, seed, tl::Interpolation::Nearest);
    ASSERT_EQ(out.size(), cv::Size(16, 16));
    double lo[3], hi[3];
    for (int c = 0; c < 2; ++c) cv::minMaxLoc(cv::Mat(out.reshape(1, 256).col(c)), &lo[c], &hi[c]);
    // Nearest samples pixels floor((i + 0.5) * 113 / 16) of the window: 3 to 109.
    EXPECT_NEAR(hi[0] - lo[0], 106, 1) << "seed " << seed;
    EXPECT_NEAR(hi[1] - lo[1], 106, 1) << "seed " << seed;
  }
}

TEST(Augment, CropDecodeTargetKeepsTheSmallestCropAtInputSize) {
  tl::AugmentConfig config;
  config.crop_scale = {0.25, 1};
  config.crop_ratio = {1, 1};
  EXPECT_EQ(tl::crop_decode_target(224, config, tl::Interpolation::Area), 448);
  config.crop_ratio = {0.25, 1};  // a 1:4 window of a quarter of the area: a quarter of the side
  EXPECT_EQ(tl::crop_decode_target(224, config, tl::Interpolation::Area), 896);
  EXPECT_EQ(tl::crop_decode_target(224, config, tl::Interpolation::Bilinear), 0);  // PIL filters: full size
}

// Keras' shear matrix [[1, -sin s, 0], [0, cos s, 0]] in (x, y) (ImageDataGenerator permutes it
// for numpy's (row, col) order): columns slant, rows stay horizontal.
TEST(Augment, ShearIsKerasMatrix) {
  cv::Mat rgb = noise(41, 41);
  cv::GaussianBlur(rgb, rgb, cv::Size(7, 7), 2);  // smooth: interpolation rounding stays within 1
  tl::AugmentConfig config;
  config.shear_range = 30;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    std::mt19937_64 rng(seed);  // the angle is the sample's first draw, uniform in [-30, 30]
    const double degrees = -30 + 60 * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
    const double s = degrees * 3.14159265358979323846 / 180, c = 20;  // c: the centre pixel
    cv::Mat map_x(41, 41, CV_32F), map_y(41, 41, CV_32F);
    for (int y = 0; y < 41; ++y)
      for (int x = 0; x < 41; ++x) {
        map_x.at<float>(y, x) = float(c + 1 * (x - c) - std::sin(s) * (y - c));
        map_y.at<float>(y, x) = float(c + 0 * (x - c) + std::cos(s) * (y - c));
      }
    cv::Mat expected;
    cv::remap(rgb, expected, map_x, map_y, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    EXPECT_LE(cv::norm(augment(rgb, config, seed), expected, cv::NORM_INF), 1) << "seed " << seed << " " << degrees;
  }
}

// Keras: a shift range >= 1 is pixels, < 1 a fraction of the side.
TEST(Augment, ShiftRangesOfOneOrMoreArePixels) {
  cv::Mat line(64, 64, CV_8UC3, cv::Scalar::all(0));
  line.col(32).setTo(cv::Scalar::all(255));
  tl::AugmentConfig config;
  config.width_shift_range = 5;  // pixels: the line moves at most 5 columns
  config.fill_mode = tl::FillMode::Constant;
  double widest = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    cv::Point brightest;
    cv::minMaxLoc(grey_of(augment(line, config, seed)).row(10), nullptr, nullptr, nullptr, &brightest);
    EXPECT_LE(std::abs(brightest.x - 32), 5) << "seed " << seed;
    widest = std::max(widest, std::abs(brightest.x - 32.0));
  }
  EXPECT_GE(widest, 2);  // all 20 shifts under 1.5 px has probability 0.3^20
}

// torchvision ColorJitter draws the order of its steps per sample.
TEST(Augment, ColourJitterOrderIsDrawnPerSample) {
  std::set<std::array<int, 3>> orders;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    std::mt19937_64 rng(seed);
    const tl::ColourJitter j = tl::draw_colour_jitter(0.5, rng);
    std::array<int, 3> sorted = j.order;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::array<int, 3>{0, 1, 2})) << "seed " << seed;
    orders.insert(j.order);
  }
  EXPECT_EQ(orders.size(), 6u);  // every order occurs

  // The order matters, and augment_image applies the drawn one: the same (seed, epoch, sample)
  // gives the same image.
  const cv::Mat rgb = noise(16, 16);
  tl::ColourJitter j{{0, 1, 2}, 1.4, 0.6, 1.3};
  cv::Mat forward = rgb.clone(), backward = rgb.clone();
  tl::apply_colour_jitter(forward, j);
  j.order = {2, 1, 0};
  tl::apply_colour_jitter(backward, j);
  EXPECT_FALSE(same(forward, backward));
  tl::AugmentConfig config;
  config.color_jitter = 0.5;
  const uint64_t seed = tl::sample_seed(7, 3, 11);
  std::mt19937_64 rng(seed);
  cv::Mat drawn = rgb.clone();
  tl::apply_colour_jitter(drawn, tl::draw_colour_jitter(0.5, rng));
  EXPECT_TRUE(same(augment(rgb, config, seed), drawn));
  EXPECT_TRUE(same(augment(rgb, config, seed), augment(rgb, config, seed)));
}

TEST(Augment, ColourJitterKeepsGreyGreyAndChangesTheImage) {
  cv::Mat grey = noise(16, 16);
  cv::cvtColor(grey_of(grey), grey, cv::COLOR_GRAY2RGB);
  tl::AugmentConfig config;
  config.color_jitter = 0.5;
  int changed = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const cv::Mat out = augment(grey, config, seed);
    std::vector<cv::Mat> channels;
    cv::split(out, channels);
    EXPECT_EQ(cv::norm(channels[0], channels[1], cv::NORM_INF), 0) << "seed " << seed;
    EXPECT_EQ(cv::norm(channels[0], channels[2], cv::NORM_INF), 0) << "seed " << seed;
    changed += !same(out, grey);
  }
  EXPECT_GE(changed, 9);
}

TEST(AugmentSeed, DiffersAcrossEpochsAndIndices) {
  std::set<uint64_t> seeds;
  for (int64_t epoch = 0; epoch < 10; ++epoch)
    for (int64_t index = 0; index < 1000; ++index) seeds.insert(tl::sample_seed(42, epoch, index));
  EXPECT_EQ(seeds.size(), 10000u);
  EXPECT_EQ(tl::sample_seed(42, 1, 2), tl::sample_seed(42, 1, 2));
  EXPECT_NE(tl::sample_seed(42, 1, 2), tl::sample_seed(42, 2, 1));
  EXPECT_NE(tl::sample_seed(42, 1, 2), tl::sample_seed(43, 1, 2));
}

}  // namespace
