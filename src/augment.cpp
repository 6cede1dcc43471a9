#include "tl/augment.h"

#include "tl/image.h"

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
// * zoom about the image centre, applied once with bilinear interpolation. Keras writes these
// matrices in (x, y) order and, since keras-preprocessing 1.1.2, permutes them (P M P) for
// numpy's (row, col) indexing; warpAffine takes (x, y), so they apply here as Keras writes them.
// The centre is the true pixel centre ((n - 1) / 2), not Keras's n / 2 + 0.5, which is off by one
// pixel. Shift ranges < 1 are fractions of the side, >= 1 pixels, as in Keras.
cv::Mat random_affine(const cv::Mat& img, const AugmentConfig& c, std::mt19937_64& rng) {
  const double theta = symmetric(rng, c.rotation_range) * kRadiansPerDegree;
  const double tx = symmetric(rng, c.width_shift_range) * (c.width_shift_range < 1 ? img.cols : 1);
  const double ty = symmetric(rng, c.height_shift_range) * (c.height_shift_range < 1 ? img.rows : 1);
  const double shear = symmetric(rng, c.shear_range) * kRadiansPerDegree;
  const double zx = c.zoom_range > 0 ? uniform(rng, 1 - c.zoom_range, 1 + c.zoom_range) : 1.0;
  const double zy = c.zoom_range > 0 ? uniform(rng, 1 - c.zoom_range, 1 + c.zoom_range) : 1.0;

  const double cx = (img.cols - 1) / 2.0;
  const double cy = (img.rows - 1) / 2.0;
  const cv::Matx33d from_centre(1, 0, cx, 0, 1, cy, 0, 0, 1);
  const cv::Matx33d rotation(std::cos(theta), -std::sin(theta), 0, std::sin(theta), std::cos(theta), 0, 0, 0, 1);
  const cv::Matx33d shift(1, 0, tx, 0, 1, ty, 0, 0, 1);
  const cv::Matx33d shearing(1, -std::sin(shear), 0, 0, std::cos(shear), 0, 0, 0, 1);  // slants columns
  const cv::Matx33d zoom(zx, 0, 0, 0, zy, 0, 0, 0, 1);
  const cv::Matx33d to_centre(1, 0, -cx, 0, 1, -cy, 0, 0, 1);
  const cv::Matx33d output_to_input = from_centre * rotation * shift * shearing * zoom * to_centre;

  cv::Mat out;
  cv::warpAffine(img, out, cv::Mat(output_to_input).rowRange(0, 2), img.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 border_mode(c.fill_mode), cv::Scalar::all(0));
  return out;
}

// torchvision RandomResizedCrop.get_params: up to 10 tries at a crop of random area and
// log-uniform aspect ratio, else the largest central crop within the ratio range.
cv::Rect random_crop_rect(cv::Size img, const AugmentConfig& c, std::mt19937_64& rng) {
  const double area = static_cast<double>(img.height) * img.width;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(rng, c.crop_scale[0], c.crop_scale[1]);
    const double aspect = std::exp(uniform(rng, std::log(c.crop_ratio[0]), std::log(c.crop_ratio[1])));
    const int w = static_cast<int>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int h = static_cast<int>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= img.width && h > 0 && h <= img.height)
      return cv::Rect(below(rng, img.width - w + 1), below(rng, img.height - h + 1), w, h);
  }
  const double in_ratio = static_cast<double>(img.width) / img.height;
  int w = img.width;
  int h = img.height;
  if (in_ratio < c.crop_ratio[0]) h = static_cast<int>(std::nearbyint(w / c.crop_ratio[0]));
  if (in_ratio > c.crop_ratio[1]) w = static_cast<int>(std::nearbyint(h * c.crop_ratio[1]));
  return cv::Rect((img.width - w) / 2, (img.height - h) / 2, w, h);
}

// Each step blends with a reference image and saturates to 0..255, as torchvision's do.
void adjust(cv::Mat& img, int step, double factor) {
  cv::Mat grey;
  switch (step) {
    case 0:
      img.convertTo(img, -1, factor);  // brightness: blend with black
      return;
    case 1:
      cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
      img.convertTo(img, -1, factor, (1 - factor) * cv::mean(grey)[0]);  // contrast: with the mean grey level
      return;
    default:
      cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
      cv::cvtColor(grey, grey, cv::COLOR_GRAY2RGB);
      cv::addWeighted(img, factor, grey, 1 - factor, 0, img);  // saturation: with the image's own greyscale
  }
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

ColourJitter draw_colour_jitter(double strength, std::mt19937_64& rng) {
  ColourJitter j;
  // torchvision ColorJitter.get_params: the order (torch.randperm) first, then the factors.
  for (int i = 2; i > 0; --i) std::swap(j.order[size_t(i)], j.order[size_t(below(rng, i + 1))]);
  const double lo = std::max(0.0, 1 - strength);
  const double hi = 1 + strength;
  j.brightness = uniform(rng, lo, hi);
  j.contrast = uniform(rng, lo, hi);
  j.saturation = uniform(rng, lo, hi);
  return j;
}

void apply_colour_jitter(cv::Mat& img, const ColourJitter& j) {
  const double factors[3] = {j.brightness, j.contrast, j.saturation};
  for (int step : j.order) adjust(img, step, factors[step]);
}

int64_t crop_decode_target(int64_t size, const AugmentConfig& c, Interpolation filter) {
  // The smallest crop's shorter side is at least sqrt(scale * ratio) of the image's shorter side
  // (ratio: the most extreme aspect, at most 1); decoding keeps that side >= size.
  const double extreme = std::min({1.0, c.crop_ratio[0], 1.0 / c.crop_ratio[1]});
  const int64_t target = decode_target(size, filter);
  return target == 0 ? 0 : static_cast<int64_t>(std::ceil(size / std::sqrt(c.crop_scale[0] * extreme)));
}

cv::Mat random_resized_crop(const cv::Mat& original, int64_t size, const AugmentConfig& config, Interpolation filter,
                            std::mt19937_64& rng) {
  const cv::Rect crop = random_crop_rect(original.size(), config, rng);
  const int s = static_cast<int>(size);
  return resample(original(crop), s, s, filter);
}

cv::Mat augment_image(const cv::Mat& rgb, const AugmentConfig& config, std::mt19937_64& rng) {
  cv::Mat out = affine_enabled(config) ? random_affine(rgb, config, rng) : rgb.clone();
  if (config.horizontal_flip && coin(rng)) cv::flip(out, out, 1);
  if (config.vertical_flip && coin(rng)) cv::flip(out, out, 0);
  if (config.brightness_range[0] != 1.0 || config.brightness_range[1] != 1.0)
    out.convertTo(out, -1, uniform(rng, config.brightness_range[0], config.brightness_range[1]));  // saturates
  if (config.color_jitter > 0) apply_colour_jitter(out, draw_colour_jitter(config.color_jitter, rng));
  return out;
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample_index) {
  // splitmix64 is a bijection, so for one (seed, epoch) every index gets a distinct seed, and
  // chaining it decorrelates neighbouring epochs and indices.
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(sample_index));
}

}  // namespace tl
