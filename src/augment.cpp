#include "tl/augment.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace tl {
namespace {

constexpr double kRadiansPerDegree = 3.14159265358979323846 / 180.0;

// Uniform in [lo, hi] from the top 53 bits. std::uniform_real_distribution is not used because
// its output differs between standard libraries, and runs should repeat anywhere.
double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
}

// Uniform in [-range, range]; draws nothing for a disabled knob.
double symmetric(std::mt19937_64& rng, double range) { return range > 0 ? uniform(rng, -range, range) : 0.0; }

bool coin(std::mt19937_64& rng) { return (rng() >> 63) != 0; }

// Uniform integer in [0, n); the modulo bias is negligible for image-sized n.
int below(std::mt19937_64& rng, int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

int border_mode(FillMode fill_mode) {
  switch (fill_mode) {
    case FillMode::Constant:
      return cv::BORDER_CONSTANT;  // Keras cval = 0: black
    case FillMode::Reflect:
      return cv::BORDER_REFLECT;  // scipy.ndimage 'reflect' (dcba|abcd), as Keras uses it
    case FillMode::Wrap:
      return cv::BORDER_WRAP;
    case FillMode::Nearest:
      break;
  }
  return cv::BORDER_REPLICATE;
}

bool affine_enabled(const AugmentConfig& c) {
  return c.rotation_range > 0 || c.width_shift_range > 0 || c.height_shift_range > 0 || c.zoom_range > 0 ||
         c.shear_range > 0;
}

// Keras apply_affine_transform: the map from output to input pixels is rotation * shift * shear
// * zoom about the image centre, applied once with bilinear interpolation. The centre is the true
// pixel centre ((n - 1) / 2), not Keras's n / 2 + 0.5, which is off by one pixel.
cv::Mat random_affine(const cv::Mat& img, const AugmentConfig& c, std::mt19937_64& rng) {
  const double theta = symmetric(rng, c.rotation_range) * kRadiansPerDegree;
  const double tx = symmetric(rng, c.width_shift_range) * img.cols;
  const double ty = symmetric(rng, c.height_shift_range) * img.rows;
  const double shear = symmetric(rng, c.shear_range) * kRadiansPerDegree;
  const double zx = c.zoom_range > 0 ? uniform(rng, 1 - c.zoom_range, 1 + c.zoom_range) : 1.0;
  const double zy = c.zoom_range > 0 ? uniform(rng, 1 - c.zoom_range, 1 + c.zoom_range) : 1.0;

  const double cx = (img.cols - 1) / 2.0;
  const double cy = (img.rows - 1) / 2.0;
  const cv::Matx33d from_centre(1, 0, cx, 0, 1, cy, 0, 0, 1);
  const cv::Matx33d rotation(std::cos(theta), std::sin(theta), 0, -std::sin(theta), std::cos(theta), 0, 0, 0, 1);
  const cv::Matx33d shift(1, 0, tx, 0, 1, ty, 0, 0, 1);
  const cv::Matx33d shearing(std::cos(shear), 0, 0, -std::sin(shear), 1, 0, 0, 0, 1);
  const cv::Matx33d zoom(zx, 0, 0, 0, zy, 0, 0, 0, 1);
  const cv::Matx33d to_centre(1, 0, -cx, 0, 1, -cy, 0, 0, 1);
  const cv::Matx33d output_to_input = from_centre * rotation * shift * shearing * zoom * to_centre;

  cv::Mat out;
  cv::warpAffine(img, out, cv::Mat(output_to_input).rowRange(0, 2), img.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 border_mode(c.fill_mode), cv::Scalar::all(0));
  return out;
}

// torchvision RandomResizedCrop.get_params: up to 10 tries at a crop of random area and
// log-uniform aspect ratio, else the largest central crop within the ratio range; the crop is
// then resized back to the input size.
cv::Mat random_resized_crop(const cv::Mat& img, const AugmentConfig& c, std::mt19937_64& rng) {
  const double area = static_cast<double>(img.rows) * img.cols;
  cv::Rect crop;
  for (int attempt = 0; attempt < 10 && crop.empty(); ++attempt) {
    const double target_area = area * uniform(rng, c.crop_scale[0], c.crop_scale[1]);
    const double aspect = std::exp(uniform(rng, std::log(c.crop_ratio[0]), std::log(c.crop_ratio[1])));
    const int w = static_cast<int>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int h = static_cast<int>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= img.cols && h > 0 && h <= img.rows)
      crop = cv::Rect(below(rng, img.cols - w + 1), below(rng, img.rows - h + 1), w, h);
  }
  if (crop.empty()) {
    const double in_ratio = static_cast<double>(img.cols) / img.rows;
    int w = img.cols;
    int h = img.rows;
    if (in_ratio < c.crop_ratio[0]) h = static_cast<int>(std::nearbyint(w / c.crop_ratio[0]));
    if (in_ratio > c.crop_ratio[1]) w = static_cast<int>(std::nearbyint(h * c.crop_ratio[1]));
    crop = cv::Rect((img.cols - w) / 2, (img.rows - h) / 2, w, h);
  }
  if (crop.size() == img.size()) return img.clone();
  cv::Mat out;
  cv::resize(img(crop), out, img.size(), 0, 0, cv::INTER_LINEAR);
  return out;
}

// torchvision ColorJitter(j, j, j), in a fixed order (brightness, contrast, saturation) rather
// than a random one. Each step blends with a reference image and saturates to 0..255.
void jitter_colour(cv::Mat& img, double strength, std::mt19937_64& rng) {
  const double lo = std::max(0.0, 1 - strength);
  const double hi = 1 + strength;
  const double brightness = uniform(rng, lo, hi);
  const double contrast = uniform(rng, lo, hi);
  const double saturation = uniform(rng, lo, hi);
  img.convertTo(img, -1, brightness);  // blend with black
  cv::Mat grey;
  cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
  img.convertTo(img, -1, contrast, (1 - contrast) * cv::mean(grey)[0]);  // blend with the mean grey level
  cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
  cv::cvtColor(grey, grey, cv::COLOR_GRAY2RGB);
  cv::addWeighted(img, saturation, grey, 1 - saturation, 0, img);  // blend with the image's own greyscale
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

cv::Mat augment_image(const cv::Mat& rgb, const AugmentConfig& config, std::mt19937_64& rng) {
  const bool crop = config.crop_scale[0] != 1.0 || config.crop_scale[1] != 1.0;
  cv::Mat out = crop ? random_resized_crop(rgb, config, rng) : rgb.clone();
  if (affine_enabled(config)) out = random_affine(out, config, rng);
  if (config.horizontal_flip && coin(rng)) cv::flip(out, out, 1);
  if (config.vertical_flip && coin(rng)) cv::flip(out, out, 0);
  if (config.brightness_range[0] != 1.0 || config.brightness_range[1] != 1.0)
    out.convertTo(out, -1, uniform(rng, config.brightness_range[0], config.brightness_range[1]));  // saturates
  if (config.color_jitter > 0) jitter_colour(out, config.color_jitter, rng);
  return out;
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample_index) {
  // splitmix64 is a bijection, so for one (seed, epoch) every index gets a distinct seed, and
  // chaining it decorrelates neighbouring epochs and indices.
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(sample_index));
}

}  // namespace tl
