#pragma once
// The loss tl-train trains on: cross-entropy with label smoothing and optional class weights,
// returned as a sum over the batch together with the denominator PyTorch's "mean" would divide
// by (the batch size, or the summed class weights of its samples). Summing both over several
// batches (gradient accumulation) or processes (data parallelism) and dividing once gives exactly
// the mean over the combined batch.
#include <vector>

#include <torch/torch.h>

#include "tl/config.h"
#include "tl/dataset.h"

namespace tl {

struct LossTerms {
  torch::Tensor sum;       // scalar, differentiable
  double denominator = 0;  // what the mean divides by
};

class TrainingLoss {
 public:
  // `class_weights`: one per class, or undefined for none.
  TrainingLoss(double label_smoothing, torch::Tensor class_weights);
  LossTerms operator()(const torch::Tensor& logits, const torch::Tensor& labels) const;
  double label_smoothing() const { return label_smoothing_; }

 private:
  double label_smoothing_;
  torch::Tensor weights_;
};

// train.class_weights as a tensor (undefined for "none"): sklearn's "balanced" is
// n_samples / (n_classes * count_c) over the training split. Throws ConfigError when a list's
// length differs from the class count.
torch::Tensor class_weight_tensor(const TrainConfig& train, const std::vector<Sample>& train_split, size_t classes);

}  // namespace tl
