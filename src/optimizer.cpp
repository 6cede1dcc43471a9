#include "tl/optimizer.h"

#include <algorithm>
#include <cmath>

namespace tl {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& o, const std::vector<torch::Tensor>& head,
                                                        const std::vector<torch::Tensor>& backbone) {
  auto groups = [&](auto options) {
    using Options = decltype(options);
    std::vector<torch::optim::OptimizerParamGroup> g;
    g.emplace_back(head, std::make_unique<Options>(options));
    Options slow = options;
    slow.lr(o.lr * o.backbone_lr_mult);
    // Always present (possibly empty) so the unfreeze schedule and resume see the same layout.
    g.emplace_back(backbone, std::make_unique<Options>(slow));
    return g;
  };
  switch (o.name) {
    case OptimizerName::Sgd: {
      auto opts = torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay);
      return std::make_unique<torch::optim::SGD>(groups(opts), opts);
    }
    case OptimizerName::AdamW: {
      auto opts = torch::optim::AdamWOptions(o.lr)
                      .betas({o.betas[0], o.betas[1]})
                      .eps(o.eps)
                      .weight_decay(o.weight_decay)
                      .amsgrad(o.amsgrad);
      return std::make_unique<torch::optim::AdamW>(groups(opts), opts);
    }
    case OptimizerName::Adam:
      break;
  }
  auto opts = torch::optim::AdamOptions(o.lr)
                  .betas({o.betas[0], o.betas[1]})
                  .eps(o.eps)
                  .weight_decay(o.weight_decay)
                  .amsgrad(o.amsgrad);
  return std::make_unique<torch::optim::Adam>(groups(opts), opts);
}

void add_backbone_parameters(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& trainable) {
  const auto known = optimizer_parameters(optimizer);
  auto& group = optimizer.param_groups()[1].params();
  for (const auto& p : trainable)
    if (std::none_of(known.begin(), known.end(), [&](const torch::Tensor& k) { return k.is_same(p); }))
      group.push_back(p);
}

std::vector<torch::Tensor> optimizer_parameters(torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> params;
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) params.push_back(p);
  return params;
}

double schedule_factor(const ScheduleConfig& s, int epoch, int total_epochs) {
  if (s.warmup_epochs > 0 && epoch <= s.warmup_epochs) return static_cast<double>(epoch) / (s.warmup_epochs + 1);
  const int t = epoch - 1 - s.warmup_epochs;  // epochs since the schedule started
  switch (s.name) {
    case ScheduleName::Step:
      return std::pow(s.gamma, t / s.step_size);
    case ScheduleName::Cosine: {
      const int span = std::max(1, total_epochs - s.warmup_epochs);
      return 0.5 * (1 + std::cos(M_PI * t / span));
    }
    case ScheduleName::Constant:
    case ScheduleName::Plateau:
      break;
  }
  return 1.0;
}

LrSchedule::LrSchedule(const OptimConfig& config, int total_epochs) : config_(config), total_epochs_(total_epochs) {}

double LrSchedule::apply(torch::optim::Optimizer& optimizer, int epoch, double plateau_factor) const {
  const double floor = std::min(1.0, config_.schedule.min_lr / config_.lr);
  const double reduction = config_.schedule.name == ScheduleName::Plateau ? std::max(plateau_factor, floor) : 1.0;
  const double factor = schedule_factor(config_.schedule, epoch, total_epochs_) * reduction;
  const double base[] = {config_.lr, config_.lr * config_.backbone_lr_mult};
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(base[std::min<size_t>(g, 1)] * factor);
  return base[0] * factor;
}

}  // namespace tl
