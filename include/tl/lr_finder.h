#pragma once
// Leslie Smith's learning-rate range test, as fastai's lr_find runs it: from the config's model,
// data and optimizer, the learning rate grows exponentially from start_lr to end_lr, one optimizer
// step each, while the training loss and its exponentially smoothed, bias-corrected value are
// recorded; the test stops early when the smoothed loss passes `diverge` x its minimum. The model
// and optimizer it trains are the caller's to throw away.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/model.h"

namespace tl {

struct LrFindOptions {
  double start_lr = 1e-7;
  double end_lr = 10;
  int steps = 100;
  double beta = 0.98;    // smoothing of the loss (fastai's)
  double diverge = 4.0;  // stop when smoothed > diverge x its minimum
};

struct LrFindPoint {
  int step = 0;  // 1-based
  double lr = 0, loss = 0, smoothed = 0;
};

// The two rules fastai reports. `steepest`: where the smoothed loss falls fastest against log(lr),
// looked for before the smoothed minimum; `minimum_tenth`: the rate at the smoothed minimum / 10.
// As fastai's lr_find, both skip the first tenth of the planned steps (the smoothing is still
// settling there) and the last 5 points. NaN when too few points remain (under 5) to say.
struct LrSuggestion {
  double steepest = std::nan("");
  double minimum_tenth = std::nan("");
  int steepest_step = 0;  // the point `steepest` comes from
};

struct LrFindResult {
  std::vector<LrFindPoint> points;
  std::string stopped_because;  // "reached end_lr", "the smoothed loss diverged", "the loss became NaN"
  bool feature_cache = false;   // frozen features computed once
  LrSuggestion suggestion;
};

// The rate of step `step` (1-based) of `steps`: start_lr x (end_lr / start_lr)^((step-1)/(steps-1)).
double lr_at_step(const LrFindOptions& options, int step);

LrSuggestion suggest_learning_rate(const std::vector<LrFindPoint>& points, int planned_steps);

// Checks the options (ConfigError naming the flag).
void check_lr_find_options(const LrFindOptions& options);

// Runs the test on `data.train` with `model` (on `device`, freeze applied). The backbone group's
// rate is the head's x optim.backbone_lr_mult, as in training.
LrFindResult find_learning_rate(const Config& config, const DatasetIndex& data, TransferModel& model,
                                const torch::Device& device, const LrFindOptions& options);

// lr_find.csv: step,lr,loss,smoothed.
std::string lr_find_csv(const LrFindResult& result);

}  // namespace tl
