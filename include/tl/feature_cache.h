#pragma once
// The frozen-feature cache (Keras' "bottleneck features"): when nothing random happens before the
// first trainable layer, the frozen prefix's output is a pure function of the image, so it is
// computed once per sample and the epochs train from it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/loader.h"
#include "tl/model.h"

namespace tl {

class FeatureCache {
 public:
  // Runs every sample through the model's frozen prefix (in eval mode, without gradients).
  FeatureCache(TransferModel& model, const std::vector<Sample>& samples, const LoaderOptions& options,
               const torch::Device& device);
  int64_t size() const { return static_cast<int64_t>(row_of_.size()); }
  // Bytes the cache of `samples` samples would take for `model` at `input_size`.
  static int64_t bytes_needed(TransferModel& model, int64_t input_size, int64_t samples, const torch::Device& device);

  // Batches of cached features in the order and composition a Loader with the same options gives
  // for that epoch (samples that failed to decode are left out, as there).
  class Batches {
   public:
    Batches(const FeatureCache& cache, EpochPlan plan) : cache_(cache), plan_(std::move(plan)) {}
    std::optional<Batch> next();

   private:
    const FeatureCache& cache_;
    EpochPlan plan_;
    int64_t step_ = 0;
  };
  Batches epoch(const LoaderOptions& options, int64_t epoch) const;

 private:
  torch::Tensor features_;       // [rows, ...] prefix outputs of the usable samples, in sample order
  torch::Tensor labels_;         // [rows] int64
  std::vector<int64_t> row_of_;  // sample index -> row, -1 when it failed to decode
};

}  // namespace tl
