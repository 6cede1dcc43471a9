#pragma once
// Random training-time transforms, Keras ImageDataGenerator style (rotation, shifts, zoom, shear,
// flips, brightness, fill_mode) plus torchvision's RandomResizedCrop and ColorJitter.
// Deterministic for a given generator state.
#include <array>
#include <cstdint>
#include <random>

#include <opencv2/core.hpp>

#include "tl/config.h"

namespace tl {

// torchvision RandomResizedCrop on the decoded original (not on the image resized to the input
// size): a crop of random area and aspect ratio, resampled to size x size with `filter`.
cv::Mat random_resized_crop(const cv::Mat& original, int64_t size, const AugmentConfig& config, Interpolation filter,
                            std::mt19937_64& rng);

// The decode_image target_size for random_resized_crop: reduced-scale JPEG decoding only as far as
// the smallest possible crop keeps input-size detail (none for PIL's filters).
int64_t crop_decode_target(int64_t size, const AugmentConfig& config, Interpolation filter);

// The transforms after the crop, on the input-size image: returns a transformed copy of `rgb`
// (same size). `rng` drives every random choice.
cv::Mat augment_image(const cv::Mat& rgb, const AugmentConfig& config, std::mt19937_64& rng);

// torchvision ColorJitter(j, j, j) without hue: its steps (0 brightness, 1 contrast, 2 saturation)
// in an order drawn per sample, and each step's factor.
struct ColourJitter {
  std::array<int, 3> order{0, 1, 2};
  double brightness = 1, contrast = 1, saturation = 1;
};
ColourJitter draw_colour_jitter(double strength, std::mt19937_64& rng);
void apply_colour_jitter(cv::Mat& img, const ColourJitter& jitter);

// The per-sample seed: a function of the run seed, the epoch and the sample's index, so results
// do not depend on the number of worker threads or on the order in which workers run.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample_index);

}  // namespace tl
