#include "tl/amp.h"

#include <ATen/autocast_mode.h>

namespace tl {

namespace {
// LibTorch 2.4 replaced the CUDA-only autocast switches by per-device ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
void set_cuda_autocast(bool on, at::ScalarType dtype) {
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, on);
}
#else
void set_cuda_autocast(bool on, at::ScalarType dtype) {
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(on);
}
#endif
}  // namespace

AutocastScope::AutocastScope(const torch::Device& device, Amp amp) {
  if (!device.is_cuda() || amp == Amp::Off) return;
  set_cuda_autocast(true, amp == Amp::Bf16 ? at::kBFloat16 : at::kHalf);
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  set_cuda_autocast(false, at::kHalf);
  at::autocast::clear_cache();
}

bool LossScaler::gradients_finite(const std::vector<torch::Tensor>& params) const {
  if (!enabled_) return true;
  for (const auto& p : params)
    if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) return false;
  return true;
}

void LossScaler::update(bool step_was_finite) {
  if (!enabled_) return;
  if (!step_was_finite) {
    scale_ /= 2;
    clean_steps_ = 0;
  } else if (++clean_steps_ == 2000) {
    scale_ *= 2;
    clean_steps_ = 0;
  }
}

void to_channels_last(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  for (auto p : params)
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

}  // namespace tl
