#pragma once
// The training loop, as Keras' fit with ModelCheckpoint and EarlyStopping behaves, split into the
// named phases of Caffe's Solver: restore (from the resume state), begin_epoch (unfreeze schedule,
// feature cache, learning rate), train_epoch (step over every batch), validate (the same
// evaluate() the `evaluate` command uses), end_epoch (monitors, checkpoints, history). The parts
// live in their own files: training_loss.h, optimizer.h, monitors.h, feature_cache.h,
// run_outputs.h; data parallelism plugs in through parallel.h.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/amp.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/feature_cache.h"
#include "tl/history.h"
#include "tl/loader.h"
#include "tl/model.h"
#include "tl/monitors.h"
#include "tl/optimizer.h"
#include "tl/parallel.h"
#include "tl/run_outputs.h"
#include "tl/training_loss.h"

namespace tl {

// How the trainer loads the config's data (batch size, preprocessing, caching, this process's shard);
// the caller turns shuffling and augmentation on for the training split.
LoaderOptions training_loader_options(const Config& config, const torch::Device& device, Shard shard);

// Asked after every optimizer step (batch = its last batch, 1-based) and after each epoch
// (batch = 0): the signal that asks training to stop, or 0.
using StopCheck = std::function<int(int epoch, int64_t batch)>;

struct TrainerSetup {
  const Config& config;
  const DatasetIndex& data;
  TransferModel& model;  // already on `device`
  torch::Device device;
  const RunOutputs& outputs;
  Parallel& parallel;
  StopCheck stop_check = [](int, int64_t) { return 0; };
  std::string split_digest;  // recorded in every checkpoint
};

struct FitResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;  // best.pt's epoch (train.monitor)
  bool stopped_early = false;
  bool nothing_to_do = false;    // --resume of a finished run
  int interrupted_by = 0;        // the signal that stopped the run, if any
  std::string final_checkpoint;  // the model the run ends with; the end-of-run test evaluation scores it
};

// Everything about the loop that last.resume.pt keeps besides the weights.
struct TrainerState {
  int epochs_done = 0;
  std::vector<EpochRecord> history;
  ImprovementTracker best;  // picks best.pt
  EarlyStopping early;
  PlateauReducer plateau;
  double plateau_factor = 1.0;
  int best_epoch = 0;
  bool stopped_early = false;
  // Within an interrupted epoch: the steps done and the running sums.
  int64_t batches_done = 0;
  double loss_sum = 0, loss_weight = 0;
  int64_t correct = 0, seen = 0;
  Json to_json() const;
  void from_json(const Json& j);
};

class Trainer {
 public:
  explicit Trainer(TrainerSetup setup);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // The whole run: restore (with `resume`), then epochs until train.epochs, early stopping or a
  // stop request. Throws TrainingError on a NaN/Inf loss (the last good checkpoint is kept).
  FitResult fit(bool resume);

  // The phases, public so that tests can drive them one by one.
  bool restore();  // false: the resumed run had already finished
  void begin_epoch(int epoch);
  bool train_epoch(int epoch, EpochRecord& record);  // false: stopped by a stop request (state saved)
  void validate(EpochRecord& record);
  bool end_epoch(EpochRecord& record);  // true: early stopping ends the run here

  const TrainerState& state() const { return state_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  double learning_rate() const { return lr_; }

 private:
  Json resume_json() const;  // the trainer state and the world size it ran with
  void refresh_feature_cache();
  void train_batch(const Batch& batch, bool cached, int64_t step, double& group_weight);
  void apply_gradients(double group_weight);
  Metric effective_metric(Metric metric);
  Json epoch_metrics(const EpochRecord& record) const;
  std::string final_checkpoint() const;
  std::string early_stopping_file() const;

  TrainerSetup s_;
  const TrainConfig& tc_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  LrSchedule schedule_;
  TrainingLoss loss_;
  LossScaler scaler_;
  LoaderOptions train_options_, eval_options_;
  std::unique_ptr<Loader> train_loader_, val_loader_;
  std::optional<FeatureCache> train_cache_, val_cache_;
  size_t cached_prefix_ = SIZE_MAX;  // the prefix the feature cache was decided for
  bool channels_last_ = false;
  TrainerState state_;
  double lr_ = 0;
  int stopped_by_ = 0;
  std::vector<std::string> warned_fallbacks_;
};

}  // namespace tl
