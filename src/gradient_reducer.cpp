#include "tl/gradient_reducer.h"

#include <algorithm>

namespace tl {
namespace {

// DDP's first bucket is small, so that the first all-reduce starts early in backward.
constexpr int64_t kFirstBucketBytes = 1024 * 1024;

bool same_tensors(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](const torch::Tensor& x, const torch::Tensor& y) { return x.is_same(y); });
}

}  // namespace

GradientReducer::GradientReducer(c10::intrusive_ptr<c10d::ProcessGroup> group, int64_t bucket_bytes, Wait wait)
    : group_(std::move(group)), bucket_bytes_(std::max<int64_t>(bucket_bytes, 1)), wait_(std::move(wait)) {}

GradientReducer::~GradientReducer() { remove_hooks(); }

void GradientReducer::arm(const std::vector<torch::Tensor>& params) {
  if (!same_tensors(params, params_)) rebuild(params);
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = true;
}

double GradientReducer::finish(const std::vector<torch::Tensor>& params, double denominator) {
  if (!same_tensors(params, params_)) rebuild(params);  // no backward armed this step's buckets
  {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;  // backward has returned: no hook runs from here on
  }
  torch::NoGradGuard no_grad;
  for (size_t b = next_launch_; b < buckets_.size(); ++b) {
    for (size_t i : buckets_[b].members)
      if (!slots_[i].arrived) {
        const torch::Tensor& held = params_[i].grad();
        held.defined() ? slice(i).copy_(held) : slice(i).zero_();
      }
    buckets_[b].waiting = 0;
  }
  launch_ready_buckets();
  std::vector<torch::Tensor> total{torch::full({1}, denominator, torch::kFloat64)};
  auto total_work = group_->allreduce(total);
  for (auto& bucket : buckets_) {
    wait_(bucket.work, "the gradient all-reduce");
    bucket.work.reset();
    for (size_t i : bucket.members) {
      torch::Tensor& p = params_[i];
      if (!p.grad().defined()) p.mutable_grad() = torch::empty_like(p);
      p.mutable_grad().copy_(slice(i));
      slots_[i].arrived = false;
    }
    bucket.waiting = bucket.members.size();
  }
  next_launch_ = 0;
  wait_(total_work, "the gradient all-reduce");
  return total[0].item<double>();
}

void GradientReducer::rebuild(const std::vector<torch::Tensor>& params) {
  remove_hooks();
  params_ = params;
  slots_.assign(params_.size(), Slot{});
  buckets_.clear();
  next_launch_ = 0;
  std::vector<int64_t> sizes;  // elements per bucket
  int64_t bytes = 0, cap = std::min(kFirstBucketBytes, bucket_bytes_);
  for (size_t i = params_.size(); i-- > 0;) {  // last layer first: backward's order
    const torch::Tensor& p = params_[i];
    const bool fits = !buckets_.empty() && bytes < cap &&
                      params_[buckets_.back().members.back()].scalar_type() == p.scalar_type() &&
                      params_[buckets_.back().members.back()].device() == p.device();
    if (!fits) {
      if (!buckets_.empty()) cap = bucket_bytes_;
      buckets_.emplace_back();
      sizes.push_back(0);
      bytes = 0;
    }
    slots_[i] = Slot{buckets_.size() - 1, sizes.back(), false};
    buckets_.back().members.push_back(i);
    sizes.back() += p.numel();
    bytes += p.numel() * int64_t(p.element_size());
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const torch::Tensor& first = params_[buckets_[b].members.front()];
    buckets_[b].flat = {torch::empty({sizes[b]}, first.options().requires_grad(false))};
    buckets_[b].waiting = buckets_[b].members.size();
  }
  hooks_.assign(params_.size(), -1);
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].requires_grad())
      hooks_[i] = int(params_[i].register_hook([this, i](torch::Tensor grad) { on_gradient(i, grad); }));
}

void GradientReducer::remove_hooks() {
  for (size_t i = 0; i < hooks_.size(); ++i)
    if (hooks_[i] >= 0) params_[i].remove_hook(unsigned(hooks_[i]));
  hooks_.clear();
}

// Runs inside backward, before autograd adds `grad` to the parameter's .grad: the step's
// gradient is what earlier micro-batches left there plus `grad`.
void GradientReducer::on_gradient(size_t index, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  Slot& slot = slots_[index];
  if (!armed_ || slot.arrived) return;
  torch::NoGradGuard no_grad;
  const torch::Tensor& held = params_[index].grad();
  torch::Tensor out = slice(index);
  held.defined() ? torch::add_out(out, held, grad) : out.copy_(grad);
  slot.arrived = true;
  if (--buckets_[slot.bucket].waiting == 0) launch_ready_buckets();
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].waiting == 0) {
    buckets_[next_launch_].work = group_->allreduce(buckets_[next_launch_].flat);
    if (armed_) ++launched_early_;
    ++next_launch_;
  }
}

torch::Tensor GradientReducer::slice(size_t index) {
  const torch::Tensor& p = params_[index];
  return buckets_[slots_[index].bucket].flat[0].narrow(0, slots_[index].offset, p.numel()).view(p.sizes());
}

}  // namespace tl
