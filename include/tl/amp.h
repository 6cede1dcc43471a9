#pragma once
// Mixed precision on CUDA (train.amp): an autocast scope for forward passes and, for fp16, a
// dynamic loss scaler (as torch.cuda.amp.GradScaler: scale the loss, unscale the gradients, skip
// steps whose gradients overflowed and halve the scale then; double it after 2000 clean steps).
// On CPU, or with amp "off", both do nothing.
#include <vector>

#include <torch/torch.h>

#include "tl/choices.h"

namespace tl {

class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, Amp amp);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
};

class LossScaler {
 public:
  LossScaler(const torch::Device& device, Amp amp) : enabled_(device.is_cuda() && amp == Amp::Fp16) {}
  explicit LossScaler(bool enabled) : enabled_(enabled) {}  // the arithmetic alone (tests)
  bool enabled() const { return enabled_; }
  torch::Tensor scale(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }
  // What the gradients are scaled by (1 when disabled): divide by it to unscale.
  double value() const { return enabled_ ? scale_ : 1.0; }
  // False when a gradient holds Inf or NaN (the step must be skipped); always true when disabled.
  bool gradients_finite(const std::vector<torch::Tensor>& params) const;
  void update(bool step_was_finite);

 private:
  bool enabled_ = false;
  double scale_ = 65536.0;
  int clean_steps_ = 0;
};

// Converts 4-D parameters (conv weights) to channels-last memory, as train.channels_last asks.
void to_channels_last(const std::vector<torch::Tensor>& params);

}  // namespace tl
