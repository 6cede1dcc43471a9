#include "tl/monitors.h"

#include <cmath>

namespace tl {

double metric_value(const EpochRecord& r, Metric metric) {
  switch (metric) {
    case Metric::Loss:
      return r.loss;
    case Metric::Acc:
      return r.acc;
    case Metric::ValAcc:
      return r.val_acc;
    case Metric::ValLoss:
      break;
  }
  return r.val_loss;
}

bool ImprovementTracker::improves(double value) const {
  if (std::isnan(value)) return false;
  if (!has_best_) return true;
  return maximize_ ? value > best_ + min_delta_ : value < best_ - min_delta_;
}

bool ImprovementTracker::record(double value) {
  if (!improves(value)) return false;
  best_ = value;
  has_best_ = true;
  return true;
}

Json ImprovementTracker::to_json() const { return Json{{"best", best_}, {"has_best", has_best_}}; }

void ImprovementTracker::from_json(const Json& j) {
  best_ = j.at("best");
  has_best_ = j.at("has_best");
}

bool EarlyStopping::update(int epoch, double value) {
  if (tracker_.record(value)) {
    wait_ = 0;
    best_epoch_ = epoch;
    return false;
  }
  return ++wait_ >= patience_;
}

Json EarlyStopping::to_json() const {
  return Json{{"tracker", tracker_.to_json()}, {"wait", wait_}, {"best_epoch", best_epoch_}};
}

void EarlyStopping::from_json(const Json& j) {
  tracker_.from_json(j.at("tracker"));
  wait_ = j.at("wait");
  best_epoch_ = j.at("best_epoch");
}

bool PlateauReducer::update(double value) {
  if (tracker_.record(value)) {
    bad_epochs_ = 0;
    return false;
  }
  if (++bad_epochs_ <= patience_) return false;
  bad_epochs_ = 0;
  return true;
}

Json PlateauReducer::to_json() const { return Json{{"tracker", tracker_.to_json()}, {"bad_epochs", bad_epochs_}}; }

void PlateauReducer::from_json(const Json& j) {
  tracker_.from_json(j.at("tracker"));
  bad_epochs_ = j.at("bad_epochs");
}

}  // namespace tl
