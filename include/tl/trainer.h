#pragma once
// fit(): the training loop, as Keras' fit with ModelCheckpoint and EarlyStopping behaves:
// epochs over the training split, validation with the same evaluate() the `evaluate` command
// uses, best.pt / last.pt written atomically, resumable state, early stopping, LR schedules,
// the unfreeze schedule, the frozen-feature cache, NaN and signal handling.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/model.h"
#include "tl/report.h"

namespace tl {

struct RunFiles {
  explicit RunFiles(std::string run_dir);
  std::string dir, best, last, resume, history_csv, history_json, curves, config, split, log;
};

struct FitResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_value = 0;
  bool stopped_early = false;
  bool nothing_to_do = false;  // --resume of a finished run
  int interrupted_by = 0;      // signal number when SIGINT/SIGTERM stopped the run
};

// Trains `model` (already on `device`) on `data` into `files.dir`. With `resume`, continues from
// files.resume when it exists. Throws TrainingError on a NaN/Inf loss (last good checkpoint kept).
FitResult fit(const Config& config, const DatasetIndex& data, TransferModel& model, const torch::Device& device,
              const RunFiles& files, bool resume);

// Tracks a monitored metric the way Keras' callbacks do: an epoch improves when its value beats
// the best so far by more than min_delta; `update` counts epochs without improvement and says
// when more than `patience` have passed (EarlyStopping, ReduceLROnPlateau).
class ImprovementTracker {
 public:
  ImprovementTracker() = default;
  ImprovementTracker(std::string name, bool maximize, double min_delta = 0, int patience = 0)
      : name_(std::move(name)), maximize_(maximize), min_delta_(min_delta), patience_(patience) {}
  bool improves(double value) const;
  // Records `value`; returns true when patience is exhausted (the wait counter then restarts).
  bool update(double value);
  const std::string& name() const { return name_; }
  bool has_best() const { return has_best_; }
  double best() const { return best_; }
  int wait() const { return wait_; }
  Json to_json() const;
  void from_json(const Json& j);

 private:
  std::string name_;
  bool maximize_ = false;
  double min_delta_ = 0;
  int patience_ = 0;
  double best_ = 0;
  bool has_best_ = false;
  int wait_ = 0;
};

// The value of `name` (loss, acc, val_loss, val_acc) in a record, and whether larger is better.
double monitored_value(const EpochRecord& record, const std::string& name);
bool monitor_maximizes(const std::string& name, const std::string& mode);

// The learning-rate factor of the epoch (1-based) for constant, step and cosine schedules
// (plateau is stateful and handled by fit()).
double schedule_factor(const ScheduleConfig& schedule, int epoch, int total_epochs);

// Installs SIGINT/SIGTERM handlers that ask fit() to stop after the current batch.
void install_interrupt_handlers();
int interrupt_signal();  // 0 when none arrived

}  // namespace tl
