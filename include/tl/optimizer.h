#pragma once
// The optimizer and its learning rates. Two parameter groups: the new head (optim.lr) and the
// trainable backbone (optim.lr x optim.backbone_lr_mult); the unfreeze schedule adds parameters to
// the second. The rate of an epoch is base x warm-up x schedule x plateau reduction.
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "tl/config.h"

namespace tl {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& config,
                                                        const std::vector<torch::Tensor>& head,
                                                        const std::vector<torch::Tensor>& backbone);

// Adds the parameters that became trainable (not already in a group) to the backbone group.
void add_backbone_parameters(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& trainable);

// Every parameter the optimizer updates, head group first.
std::vector<torch::Tensor> optimizer_parameters(torch::optim::Optimizer& optimizer);

// The factor of epoch `epoch` (1-based) from the warm-up and the constant, step or cosine
// schedule. Warm-up comes first: `warmup_epochs` epochs at e / (w + 1), then the schedule starts
// at its top (step counts its steps from there, as PyTorch's SequentialLR([LinearLR, StepLR])).
double schedule_factor(const ScheduleConfig& schedule, int epoch, int total_epochs);

class LrSchedule {
 public:
  LrSchedule(const OptimConfig& config, int total_epochs);
  // Sets each group's rate for `epoch`; `plateau_factor` is the product of the plateau
  // reductions so far, floored at min_lr / lr so that each group keeps at least its share of
  // min_lr (a group whose base rate is 0 stays at 0, and a warm-up is never lifted). Returns the
  // head's rate.
  double apply(torch::optim::Optimizer& optimizer, int epoch, double plateau_factor) const;

 private:
  OptimConfig config_;
  int total_epochs_;
};

}  // namespace tl
