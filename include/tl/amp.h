#pragma once
// Mixed precision on CUDA (train.amp): an autocast scope for forward passes and, for fp16, a
// dynamic loss scaler (as torch.cuda.amp.GradScaler: scale the loss, unscale the gradients, skip
// steps whose gradients overflowed, halve the scale then; double it after 2000 clean steps).
// On CPU, or with amp "off", both are no-ops.
#include <string>
#include <vector>

#include <torch/torch.h>

namespace tl {

class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, const std::string& amp);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
};

class LossScaler {
 public:
  LossScaler(const torch::Device& device, const std::string& amp);
  bool enabled() const { return enabled_; }
  torch::Tensor scale(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }
  // Divides the gradients by the scale; returns false when any is Inf/NaN (skip this step).
  bool unscale(const std::vector<torch::Tensor>& params);
  void update(bool step_was_finite);
  double value() const { return scale_; }

 private:
  bool enabled_ = false;
  double scale_ = 65536.0;
  int clean_steps_ = 0;
};

// Converts 4-D parameters (conv weights) to channels-last memory, as train.channels_last asks.
void to_channels_last(const std::vector<torch::Tensor>& params);

}  // namespace tl
