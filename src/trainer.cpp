#include "tl/trainer.h"

#include <malloc.h>

#include <chrono>
#include <cmath>
#include <csignal>

#include <spdlog/spdlog.h>

#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "tl/evaluate.h"
#include "tl/files.h"
#include "tl/progress.h"

namespace tl {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

LoaderOptions training_loader_options(const Config& config, const torch::Device& device, Shard shard) {
  LoaderOptions o;
  o.batch_size = config.train.batch_size;
  o.shard = shard;
  o.drop_last = config.data.drop_last;
  o.seed = config.train.seed;
  o.workers = config.data.workers;
  o.image_size = config.model.input_size;
  o.resize = config.data.resize;
  o.interpolation = config.data.interpolation;
  o.max_pixels = config.data.max_pixels;
  o.normalize = config.data.normalize;
  o.cache_memory = config.data.cache_memory;
  o.cache_bytes = config.data.cache_bytes;
  o.fail_on_bad_image = config.data.on_bad_image == BadImagePolicy::Fail;
  o.pin_memory = device.is_cuda();
  return o;
}

namespace {

Json nullable(double v) { return std::isnan(v) ? Json(nullptr) : Json(v); }

void drop_gradients(const std::vector<torch::Tensor>& params) {
  // Dropping the gradients (instead of zeroing them) avoids a memset per parameter per step.
  for (auto p : params) p.mutable_grad().reset();
}

}  // namespace

// ---- the state kept in last.resume.pt ----

Json TrainerState::to_json() const {
  return Json{{"epochs_done", epochs_done},
              {"history", history_to_json(history)},
              {"best", best.to_json()},
              {"early", early.to_json()},
              {"plateau", plateau.to_json()},
              {"plateau_factor", plateau_factor},
              {"best_epoch", best_epoch},
              {"stopped_early", stopped_early},
              {"batches_done", batches_done},
              {"loss_sum", loss_sum},
              {"loss_weight", loss_weight},
              {"correct", correct},
              {"seen", seen}};
}

void TrainerState::from_json(const Json& j) {
  epochs_done = j.at("epochs_done");
  history = history_from_json(j.at("history"));
  best.from_json(j.at("best"));
  early.from_json(j.at("early"));
  plateau.from_json(j.at("plateau"));
  plateau_factor = j.at("plateau_factor");
  best_epoch = j.at("best_epoch");
  stopped_early = j.at("stopped_early");
  batches_done = j.at("batches_done");
  loss_sum = j.at("loss_sum");
  loss_weight = j.at("loss_weight");
  correct = j.at("correct");
  seen = j.at("seen");
}

// ---- setting up ----

Trainer::Trainer(TrainerSetup setup)
    : s_(std::move(setup)),
      tc_(s_.config.train),
      optimizer_(make_optimizer(s_.config.optim, s_.model.head_parameters(), s_.model.trainable_backbone_parameters())),
      schedule_(s_.config.optim, tc_.epochs),
      loss_(tc_.label_smoothing, class_weight_tensor(tc_, s_.data.train, s_.data.classes.size())),
      scaler_(s_.device, tc_.amp),
      train_options_(training_loader_options(s_.config, s_.device, s_.parallel.shard())),
      eval_options_(training_loader_options(s_.config, s_.device, s_.parallel.shard())) {
  train_options_.shuffle = true;
  if (s_.config.data.augment.enabled()) train_options_.augment = s_.config.data.augment;
  eval_options_.drop_last = false;
  eval_options_.cache_memory = false;
  train_loader_ = std::make_unique<Loader>(s_.data.train, train_options_);
  val_loader_ = std::make_unique<Loader>(s_.data.val, eval_options_);
  // CUDA only: channels-last memory (train.channels_last).
  channels_last_ = tc_.channels_last && s_.device.is_cuda();
  if (channels_last_) to_channels_last(s_.model.all_parameters());

  const Metric best = effective_metric(tc_.monitor);
  state_.best = ImprovementTracker(best, metric_maximizes(best, tc_.mode));
  const auto& es = tc_.early_stopping;
  const Metric early = effective_metric(es.monitor.value_or(tc_.monitor));
  state_.early = EarlyStopping(early, metric_maximizes(early, es.monitor ? MonitorMode::Auto : tc_.mode), es.min_delta,
                               es.patience);
  const Metric plateau = effective_metric(s_.config.optim.schedule.monitor);
  state_.plateau = PlateauReducer(plateau, metric_maximizes(plateau), s_.config.optim.schedule.patience);
  if (s_.config.optim.schedule.warmup_epochs >= tc_.epochs)
    spdlog::warn(
        "optim.schedule.warmup_epochs ({}) is not below train.epochs ({}): the learning rate never reaches optim.lr",
        s_.config.optim.schedule.warmup_epochs, tc_.epochs);
}

Trainer::~Trainer() = default;

Json Trainer::resume_json() const {
  Json state = state_.to_json();
  state["world_size"] = s_.parallel.world_size();
  return state;
}

// Without a validation split, val_* monitors fall back to the training metric (said once each).
Metric Trainer::effective_metric(Metric metric) {
  if (!s_.data.val.empty() || !is_validation_metric(metric)) return metric;
  const Metric fallback = training_counterpart(metric);
  const std::string message =
      "no validation split: monitoring '" + name_of(fallback) + "' instead of '" + name_of(metric) + "'";
  if (std::find(warned_fallbacks_.begin(), warned_fallbacks_.end(), message) == warned_fallbacks_.end()) {
    warned_fallbacks_.push_back(message);
    spdlog::warn("{}", message);
  }
  return fallback;
}

// ---- the run ----

FitResult Trainer::fit(bool resume) {
  FitResult result;
  if (resume && !restore()) {
    result.nothing_to_do = true;
  } else {
    for (int epoch = state_.epochs_done + 1; epoch <= tc_.epochs; ++epoch) {
      begin_epoch(epoch);
      EpochRecord record;
      if (!train_epoch(epoch, record)) {
        result.interrupted_by = stopped_by_;
        break;
      }
      validate(record);
      if (end_epoch(record)) break;
      if (const int signal = s_.parallel.agree_stop(s_.stop_check(epoch, 0)); signal != 0) {
        result.interrupted_by = signal;
        spdlog::warn("interrupted after epoch {}: state saved; continue with --resume", epoch);
        break;
      }
    }
  }
  result.history = state_.history;
  result.best_epoch = state_.best_epoch;
  result.stopped_early = state_.stopped_early;
  result.final_checkpoint = final_checkpoint();
  return result;
}

bool Trainer::restore() {
  const RunDirectory& dir = s_.outputs.dir();
  std::string bytes;
  if (s_.outputs.writer() && dir.has(dir.resume_state())) bytes = read_file(dir.resume_state());
  s_.parallel.broadcast(bytes);
  if (bytes.empty()) {
    spdlog::info("No resume state in {} yet: starting from the beginning", dir.dir());
    return true;
  }
  // Rebuild the parameter groups as they were (the unfreeze schedule so far), then every value.
  const Json saved = resume_state_json(bytes, dir.resume_state());
  // Within an epoch, the position counts global batches of batch_size x world: only the same
  // world size continues it (at an epoch's end any world size can).
  const int saved_world = saved.value("world_size", 1);
  if (saved.at("batches_done").get<int64_t>() > 0 && saved_world != s_.parallel.world_size())
    throw ConfigError("--resume: the run stopped within epoch " + std::to_string(saved.at("epochs_done").get<int>() + 1) +
                      " with " + std::to_string(saved_world) + " process(es); resume it with as many (now " +
                      std::to_string(s_.parallel.world_size()) + ")");
  const int started = saved.at("epochs_done").get<int>() + (saved.at("batches_done").get<int64_t>() > 0 ? 1 : 0);
  for (const auto& [epoch, spec] : s_.config.model.unfreeze_at)
    if (epoch <= started)
      s_.model.set_freeze(spec), add_backbone_parameters(*optimizer_, s_.model.trainable_backbone_parameters());
  load_resume_state(bytes, dir.resume_state(), s_.model, *optimizer_);
  state_.from_json(saved);
  // Whatever the last epoch may not have written (a kill between the state and the history).
  s_.outputs.save_history(state_.history);
  if (state_.stopped_early || (state_.epochs_done >= tc_.epochs && state_.batches_done == 0)) {
    spdlog::info("Nothing left to do: the run in {} finished after epoch {}", dir.dir(), state_.epochs_done);
    return false;
  }
  spdlog::info("Resuming {} after epoch {}{}", dir.dir(), state_.epochs_done,
               state_.batches_done ? " (+" + std::to_string(state_.batches_done) + " batches)" : "");
  return true;
}

void Trainer::begin_epoch(int epoch) {
  const bool continuing = state_.batches_done > 0;
  const auto thaw = s_.config.model.unfreeze_at.find(epoch);
  if (!continuing && thaw != s_.config.model.unfreeze_at.end()) {
    s_.model.set_freeze(thaw->second);
    add_backbone_parameters(*optimizer_, s_.model.trainable_backbone_parameters());
    spdlog::info("Epoch {}: unfreezing to \"{}\" ({} trainable backbone tensors)", epoch, s_.model.freeze_spec(),
                 s_.model.trainable_backbone_parameters().size());
  }
  if (s_.model.prefix_stages() != cached_prefix_) refresh_feature_cache();
  lr_ = schedule_.apply(*optimizer_, epoch, state_.plateau_factor);
  // Dropout draws come from the global generator: seed it per epoch so a resumed run repeats them.
  if (!continuing) torch::manual_seed(tc_.seed * 1000003ULL + static_cast<uint64_t>(epoch));
}

// The frozen-feature cache: valid while nothing random happens before the first trainable stage.
void Trainer::refresh_feature_cache() {
  train_cache_.reset();
  val_cache_.reset();
  cached_prefix_ = s_.model.prefix_stages();
  std::string why;
  if (tc_.feature_cache == FeatureCacheMode::Off)
    why = "train.feature_cache is \"off\"";
  else if (s_.model.prefix_stages() == 0)
    why = "no frozen layers";
  else if (s_.config.data.augment.enabled())
    why = "augmentation changes the frozen layers' input every epoch";
  if (why.empty()) {
    const int64_t samples = static_cast<int64_t>(s_.data.train.size() + s_.data.val.size());
    const int64_t bytes = FeatureCache::bytes_needed(s_.model, s_.config.model.input_size, samples, s_.device);
    if (bytes > tc_.feature_cache_bytes) {
      why = "needs " + bytes_text(bytes) + ", over train.feature_cache_bytes (" + bytes_text(tc_.feature_cache_bytes) +
            ")";
    } else {
      const auto start = Clock::now();
      train_cache_.emplace(s_.model, s_.data.train, train_options_, s_.device);
      if (!s_.data.val.empty()) val_cache_.emplace(s_.model, s_.data.val, eval_options_, s_.device);
      spdlog::info("Feature cache: on ({} frozen stages, {}, built in {:.1f}s)", s_.model.prefix_stages(),
                   bytes_text(bytes), seconds_since(start));
    }
  }
  if (!why.empty()) spdlog::info("Feature cache: off ({})", why);
}

bool Trainer::train_epoch(int epoch, EpochRecord& record) {
  const auto start = Clock::now();
  const bool continuing = state_.batches_done > 0;
  if (!continuing) state_.loss_sum = state_.loss_weight = 0, state_.correct = state_.seen = 0;
  s_.model.train(true);
  std::optional<FeatureCache::Batches> cached;
  if (train_cache_)
    cached.emplace(train_cache_->epoch(train_options_, epoch));
  else
    train_loader_->start_epoch(epoch);
  const int64_t steps = train_loader_->batches_per_epoch();
  Progress progress(epoch, tc_.epochs, steps);
  double group_weight = 0;
  int64_t step = 0;
  drop_gradients(optimizer_parameters(*optimizer_));
  while (auto batch = cached ? cached->next() : train_loader_->next()) {
    if (++step <= state_.batches_done) continue;  // trained before the interruption
    const bool last_of_step = step % tc_.accumulate == 0 || step == steps;
    s_.parallel.before_backward(optimizer_parameters(*optimizer_), last_of_step);
    train_batch(*batch, cached.has_value(), step, group_weight);
    if (!last_of_step) continue;
    apply_gradients(group_weight);
    group_weight = 0;
    progress.update(step, state_.seen, state_.loss_sum / std::max(state_.loss_weight, 1e-30),
                    double(state_.correct) / double(std::max<int64_t>(state_.seen, 1)));
    if (step == steps) break;
    stopped_by_ = s_.parallel.agree_stop(s_.stop_check(epoch, step));
    if (stopped_by_) {
      progress.finish();
      state_.batches_done = step;
      s_.outputs.save_resume_state(s_.model, *optimizer_, resume_json());
      spdlog::warn(
          "interrupted by {} during epoch {} after batch {}: resumable state saved to {}; continue with --resume",
          stopped_by_ == SIGTERM ? "SIGTERM" : "SIGINT", epoch, step, s_.outputs.dir().resume_state());
      return false;
    }
  }
  progress.finish();
  state_.batches_done = 0;
  std::vector<double> totals{state_.loss_sum, state_.loss_weight, double(state_.correct), double(state_.seen)};
  s_.parallel.sum(totals);
  if (totals[3] == 0) throw DataError("epoch " + std::to_string(epoch) + " had no usable training image");
  record.epoch = epoch;
  record.loss = totals[0] / totals[1];
  record.acc = totals[2] / totals[3];
  record.lr = lr_;
  record.seconds = seconds_since(start);
  return true;
}

// Forward and backward of one batch: gradients of the loss's sum accumulate until the step.
void Trainer::train_batch(const Batch& batch, bool cached, int64_t step, double& group_weight) {
  if (batch.size() == 0) return;  // nothing of this step for this process
  torch::Tensor x = batch.images.to(s_.device, true), y = batch.labels.to(s_.device, true);
  if (channels_last_ && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  torch::Tensor logits;
  LossTerms terms;
  {
    AutocastScope autocast(s_.device, tc_.amp);
    logits = cached ? s_.model.forward_from_prefix(x) : s_.model.forward(x);
    terms = loss_(logits, y);
  }
  const double sum = terms.sum.item<double>();
  const double loss = sum / terms.denominator;
  if (!std::isfinite(loss)) {
    const RunDirectory& dir = s_.outputs.dir();
    throw TrainingError("loss became " + std::string(std::isnan(loss) ? "NaN" : "Inf") + " at epoch " +
                        std::to_string(state_.epochs_done + 1) + ", batch " + std::to_string(step) + "; " +
                        (dir.has(dir.last()) ? "the last good checkpoint is kept (" + dir.last() + ")"
                                             : "no checkpoint was written yet") +
                        "; lower optim.lr or set train.clip_grad_norm");
  }
  scaler_.scale(terms.sum).backward();
  group_weight += terms.denominator;
  state_.loss_sum += sum;
  state_.loss_weight += terms.denominator;
  state_.correct += (logits.argmax(1) == y).sum().item<int64_t>();
  state_.seen += y.size(0);
}

// The optimizer step: gradients summed over processes, divided once by the summed loss
// denominators (the mean over the whole step) and the loss scale, clipped, applied, dropped.
void Trainer::apply_gradients(double group_weight) {
  const std::vector<torch::Tensor> params = optimizer_parameters(*optimizer_);
  const double total = s_.parallel.reduce_gradients(params, group_weight);
  if (total > 0) {
    torch::NoGradGuard no_grad;
    const double divisor = total * scaler_.value();
    for (const auto& p : params)
      if (p.grad().defined()) p.mutable_grad().div_(divisor);
    const bool finite = scaler_.gradients_finite(params);
    if (tc_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, tc_.clip_grad_norm);
    if (finite) optimizer_->step();  // fp16: a step whose gradients overflowed is skipped
    scaler_.update(finite);
  }
  drop_gradients(params);
}

void Trainer::validate(EpochRecord& record) {
  record.val_loss = record.val_acc = std::nan("");
  if (s_.data.val.empty()) return;
  s_.model.train(false);
  s_.parallel.broadcast_tensors(s_.model.buffers());  // every rank scores with rank 0's BatchNorm statistics
  AutocastScope autocast(s_.device, tc_.amp);
  std::optional<FeatureCache::Batches> cached;
  if (val_cache_)
    cached.emplace(val_cache_->epoch(eval_options_, 0));
  else
    val_loader_->start_epoch(0);
  const EvalResult val =
      evaluate([&] { return cached ? cached->next() : val_loader_->next(); },
               [&](const torch::Tensor& x) { return cached ? s_.model.forward_from_prefix(x) : s_.model.forward(x); },
               s_.data.classes, s_.device, loss_.label_smoothing());
  std::vector<double> totals{val.loss * double(val.total), double(val.correct), double(val.total)};
  s_.parallel.sum(totals);
  record.val_loss = totals[0] / totals[2];
  record.val_acc = totals[1] / totals[2];
}

Json Trainer::epoch_metrics(const EpochRecord& r) const {
  return Json{{"loss", r.loss}, {"acc", r.acc}, {"val_loss", nullable(r.val_loss)}, {"val_acc", nullable(r.val_acc)}};
}

bool Trainer::end_epoch(EpochRecord& record) {
  const int epoch = record.epoch;
  state_.history.push_back(record);
  state_.epochs_done = epoch;
  std::string line = "Epoch " + std::to_string(epoch) + "/" + std::to_string(tc_.epochs) + " - " +
                     fixed(record.seconds, 1) + "s - loss: " + fixed(record.loss) + " - acc: " + fixed(record.acc);
  if (!s_.data.val.empty()) line += " - val_loss: " + fixed(record.val_loss) + " - val_acc: " + fixed(record.val_acc);
  spdlog::info("{} - lr: {}", line, lr_text(record.lr));
  if (epoch == 1 && s_.config.data.cache_memory) {
    const CacheStats c = train_loader_->cache_stats();
    spdlog::info("Memory cache: {} images, {} of {}{}", c.images, bytes_text(c.bytes), bytes_text(c.budget),
                 c.refused ? " (full: " + std::to_string(c.refused) + " images did not fit)" : "");
  }

  // last.pt every epoch; best.pt, a copy of it, when the monitored value improves (ModelCheckpoint(save_best_only)).
  s_.parallel.broadcast_tensors(s_.model.buffers());
  const Json meta =
      checkpoint_meta(s_.config, s_.data.classes, s_.model, epoch, epoch_metrics(record), s_.split_digest);
  const std::string last = s_.outputs.dir().last();
  s_.outputs.save_checkpoint(last, s_.model, meta);
  const Metric monitor = state_.best.metric();
  const double value = metric_value(record, monitor);
  const std::string from = state_.best.has_best()                ? fixed(state_.best.best(), 5)
                           : metric_maximizes(monitor, tc_.mode) ? "-inf"
                                                                 : "inf";
  if (state_.best.record(value)) {
    spdlog::info("{} improved from {} to {}, saving best.pt", name_of(monitor), from, fixed(value, 5));
    state_.best_epoch = epoch;
    s_.outputs.copy_checkpoint(last, s_.outputs.dir().best());
  } else {
    spdlog::info("{} did not improve from {}", name_of(monitor), from);
  }
  const auto& es = tc_.early_stopping;
  if (es.enabled) {
    const bool stop = state_.early.update(epoch, metric_value(record, state_.early.tracker().metric()));
    if (state_.early.best_epoch() == epoch && !early_stopping_file().empty())
      s_.outputs.copy_checkpoint(last, early_stopping_file());
    if (stop) {
      state_.stopped_early = true;
      spdlog::info("Early stopping: {} has not improved for {} epochs (best: epoch {})",
                   name_of(state_.early.tracker().metric()), state_.early.wait(), state_.early.best_epoch());
    }
  }
  if (s_.config.optim.schedule.name == ScheduleName::Plateau &&
      state_.plateau.update(metric_value(record, state_.plateau.tracker().metric()))) {
    state_.plateau_factor *= s_.config.optim.schedule.factor;
    spdlog::info("Reducing the learning rate: {} has not improved for {} epochs",
                 name_of(state_.plateau.tracker().metric()), s_.config.optim.schedule.patience + 1);
  }
  s_.outputs.save_resume_state(s_.model, *optimizer_, resume_json());
  s_.outputs.save_history(state_.history);
  // main() keeps freed memory in the heap for the training steps (no trimming, a high mmap
  // threshold); the loader's decoding then fragments it and the resident size crept up ~4 MB an
  // epoch (VGG16 at 64 px). Handing the free pages back once an epoch keeps it flat.
  malloc_trim(0);
  return state_.stopped_early;
}

// Where restore_best keeps the early-stopping monitor's best epoch: best.pt when it is the same
// monitor, else its own file; "" when not needed.
std::string Trainer::early_stopping_file() const {
  const auto& es = tc_.early_stopping;
  if (!es.enabled || !es.restore_best || state_.early.tracker().metric() == state_.best.metric()) return "";
  return s_.outputs.dir().best_for(name_of(state_.early.tracker().metric()));
}

// The model the run ends with: best.pt (ModelCheckpoint), except when early stopping ended the
// run: then the early-stopping monitor's best epoch with restore_best (Keras'
// restore_best_weights), else the last epoch.
std::string Trainer::final_checkpoint() const {
  const RunDirectory& dir = s_.outputs.dir();
  if (!state_.stopped_early) return dir.best();
  if (!tc_.early_stopping.restore_best) return dir.last();
  const std::string own = early_stopping_file();
  return own.empty() ? dir.best() : own;
}

}  // namespace tl
