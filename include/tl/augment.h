#pragma once
// Random training-time transforms on resized RGB uint8 images, Keras ImageDataGenerator style
// (rotation, shifts, zoom, shear, flips, brightness, fill_mode) plus random_resized_crop and
// colour jitter. Deterministic for a given generator state.
#include <cstdint>
#include <random>

#include <opencv2/core.hpp>

#include "tl/config.h"

namespace tl {

// Returns a transformed copy of `rgb` (same size). `rng` drives every random choice.
cv::Mat augment_image(const cv::Mat& rgb, const AugmentConfig& config, std::mt19937_64& rng);

// The per-sample seed: a function of the run seed, the epoch and the sample's index, so results
// do not depend on the number of worker threads or on the order in which workers run.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t sample_index);

}  // namespace tl
