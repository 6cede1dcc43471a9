#pragma once
// What data-parallel training changes in the training loop, in one place. The loop asks it:
// - which samples this process takes in an epoch (shard(): its part of every global batch);
// - what happens to the gradients between backward and the optimizer step (reduce_gradients():
//   summed over processes, with the loss denominators, so the step uses the global mean);
// - who writes files (is_writer(): rank 0);
// - how metrics are summed (sum()), whether to stop (agree_stop()), and how rank 0's state
//   reaches the others (broadcast()).
// This base class is one process alone: every call is the identity.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/loader.h"

namespace tl {

class Parallel {
 public:
  virtual ~Parallel() = default;
  virtual int rank() const { return 0; }
  virtual int world_size() const { return 1; }
  bool is_writer() const { return rank() == 0; }
  Shard shard() const { return Shard{rank(), world_size()}; }

  // Called before the backward pass of a micro-batch; `last_of_step` is true for the one after
  // which the optimizer steps (gradients may then be sent while backward still runs).
  virtual void before_backward(const std::vector<torch::Tensor>& params, bool last_of_step) {
    (void)params, (void)last_of_step;
  }
  // Sums the gradients of `params` and `denominator` over all processes; returns the summed
  // denominator. Undefined gradients count as zeros.
  virtual double reduce_gradients(const std::vector<torch::Tensor>& params, double denominator) {
    (void)params;
    return denominator;
  }
  // Element-wise sum over all processes.
  virtual void sum(std::vector<double>& values) { (void)values; }
  // The signal any process was asked to stop by (0 when none): all stop at the same batch.
  virtual int agree_stop(int signal) { return signal; }
  // Rank 0's bytes everywhere.
  virtual void broadcast(std::string& bytes) { (void)bytes; }
  // Rank 0's values of these tensors (parameters, BatchNorm statistics) everywhere.
  virtual void broadcast_tensors(const std::vector<torch::Tensor>& tensors) { (void)tensors; }
  virtual void barrier() {}
};

}  // namespace tl
