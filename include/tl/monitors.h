#pragma once
// Watching a metric over epochs, as Keras' callbacks and PyTorch's schedulers do: which epoch is
// the best so far (ModelCheckpoint's save_best_only), when to stop (Keras EarlyStopping) and when
// to lower the learning rate (PyTorch ReduceLROnPlateau).
#include <string>

#include "tl/choices.h"
#include "tl/history.h"
#include "tl/json.h"

namespace tl {

// The value of `metric` in an epoch's record.
double metric_value(const EpochRecord& record, Metric metric);

// The best value of a metric so far: an epoch improves when it beats it by more than min_delta.
class ImprovementTracker {
 public:
  ImprovementTracker() = default;
  ImprovementTracker(Metric metric, bool maximize, double min_delta = 0)
      : metric_(metric), maximize_(maximize), min_delta_(min_delta) {}
  bool improves(double value) const;
  // Records `value`; true when it improved (and became the best).
  bool record(double value);
  Metric metric() const { return metric_; }
  bool has_best() const { return has_best_; }
  double best() const { return best_; }
  Json to_json() const;
  void from_json(const Json& j);

 private:
  Metric metric_ = Metric::ValLoss;
  bool maximize_ = false;
  double min_delta_ = 0;
  double best_ = 0;
  bool has_best_ = false;
};

// Keras EarlyStopping: stops once `patience` epochs in a row brought no improvement
// (`wait >= patience`); remembers the best epoch for restore_best.
class EarlyStopping {
 public:
  EarlyStopping() = default;
  EarlyStopping(Metric metric, bool maximize, double min_delta, int patience)
      : tracker_(metric, maximize, min_delta), patience_(patience) {}
  // Records the epoch's value; true when training should stop after this epoch.
  bool update(int epoch, double value);
  const ImprovementTracker& tracker() const { return tracker_; }
  int best_epoch() const { return best_epoch_; }
  int wait() const { return wait_; }
  Json to_json() const;
  void from_json(const Json& j);

 private:
  ImprovementTracker tracker_;
  int patience_ = 0;
  int wait_ = 0;
  int best_epoch_ = 0;
};

// PyTorch ReduceLROnPlateau: reduces once more than `patience` epochs in a row brought no
// improvement, then counts afresh.
class PlateauReducer {
 public:
  PlateauReducer() = default;
  PlateauReducer(Metric metric, bool maximize, int patience) : tracker_(metric, maximize), patience_(patience) {}
  // Records the epoch's value; true when the learning rate should be reduced now.
  bool update(double value);
  const ImprovementTracker& tracker() const { return tracker_; }
  Json to_json() const;
  void from_json(const Json& j);

 private:
  ImprovementTracker tracker_;
  int patience_ = 0;
  int bad_epochs_ = 0;
};

}  // namespace tl
