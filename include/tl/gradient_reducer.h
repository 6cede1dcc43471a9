#pragma once
// Sums gradients over a c10d process group while backward still runs, as PyTorch's DDP does:
// parameters are grouped into flattened buckets (last layer first, the order backward produces
// them); a hook on each parameter copies its step gradient into its bucket, and a bucket whose
// gradients have all arrived is all-reduced at once, in the background, while backward goes on
// with earlier layers. Buckets are launched strictly in bucket order on every rank, since Gloo
// pairs collectives by the order they are issued.
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/torch.h>

namespace tl {

class GradientReducer {
 public:
  // Waits for a collective; throws a one-line error naming `what` when it fails.
  using Wait = std::function<void(const c10::intrusive_ptr<c10d::Work>&, const std::string& what)>;

  GradientReducer(c10::intrusive_ptr<c10d::ProcessGroup> group, int64_t bucket_bytes, Wait wait);
  ~GradientReducer();  // removes the hooks: the parameters may outlive the group
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // The next backward pass completes the step's gradients of `params`: send each bucket as soon
  // as it is complete. Hooks and buckets are (re)built when the parameters change (unfreezing).
  void arm(const std::vector<torch::Tensor>& params);
  // After the step's last backward: sends what has not gone yet (parameters backward did not
  // reach count as zeros), sums `denominator` too, waits, and leaves the sums in the parameters'
  // gradients. Returns the summed denominator.
  double finish(const std::vector<torch::Tensor>& params, double denominator);

  int64_t buckets() const { return int64_t(buckets_.size()); }
  int64_t launched_during_backward() const { return launched_early_; }

 private:
  struct Bucket {
    std::vector<size_t> members;        // indices into params_
    std::vector<torch::Tensor> flat;    // one flat tensor, as c10d takes it
    size_t waiting = 0;                 // members whose gradient has not arrived this step
    c10::intrusive_ptr<c10d::Work> work;
  };
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;  // in elements, within the bucket's flat tensor
    bool arrived = false;
  };

  void rebuild(const std::vector<torch::Tensor>& params);
  void remove_hooks();
  void on_gradient(size_t index, const torch::Tensor& grad);
  void write_step_gradient(size_t index, const torch::Tensor& incoming);
  void launch_ready_buckets();
  torch::Tensor slice(size_t index);

  c10::intrusive_ptr<c10d::ProcessGroup> group_;
  int64_t bucket_bytes_;
  Wait wait_;
  std::vector<torch::Tensor> params_;
  std::vector<int> hooks_;  // -1: no hook (the parameter does not require a gradient)
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  int64_t launched_early_ = 0;  // buckets sent while backward ran, summed over steps
  std::mutex mutex_;            // hooks run on autograd's device threads for CUDA tensors
};

}  // namespace tl
