#include "tl/lr_finder.h"

#include <cmath>
#include <optional>

#include <spdlog/spdlog.h>

#include "tl/errors.h"
#include "tl/feature_cache.h"
#include "tl/loader.h"
#include "tl/optimizer.h"
#include "tl/progress.h"
#include "tl/trainer.h"
#include "tl/training_loss.h"

namespace tl {
namespace {

// Batches without end: the training split's epochs one after another (1, 2, ...), from the
// feature cache when there is one.
class EndlessBatches {
 public:
  EndlessBatches(Loader& loader, const FeatureCache* cache, const LoaderOptions& options)
      : loader_(loader), cache_(cache), options_(options) {}
  Batch next() {
    for (int empty_epochs = 0; empty_epochs < 2;) {
      std::optional<Batch> batch = batches_ ? batches_->next() : started_ ? loader_.next() : std::nullopt;
      if (batch && batch->size() > 0) {
        got_one_ = true;
        return std::move(*batch);
      }
      if (batch) continue;  // every image of this batch failed to decode
      if (started_ && !got_one_) ++empty_epochs;
      got_one_ = false;
      ++epoch_;
      started_ = true;
      if (cache_)
        batches_.emplace(cache_->epoch(options_, epoch_));
      else
        loader_.start_epoch(epoch_);
    }
    throw DataError("the training split has no usable image");
  }

 private:
  Loader& loader_;
  const FeatureCache* cache_;
  const LoaderOptions& options_;
  std::optional<FeatureCache::Batches> batches_;
  int64_t epoch_ = 0;
  bool started_ = false, got_one_ = false;
};

bool use_feature_cache(const Config& config, TransferModel& model, const torch::Device& device, size_t samples) {
  if (config.train.feature_cache == FeatureCacheMode::Off || model.prefix_stages() == 0 ||
      config.data.augment.enabled())
    return false;
  return FeatureCache::bytes_needed(model, config.model.input_size, int64_t(samples), device) <=
         config.train.feature_cache_bytes;
}

}  // namespace

double lr_at_step(const LrFindOptions& o, int step) {
  if (o.steps <= 1) return o.start_lr;
  return o.start_lr * std::pow(o.end_lr / o.start_lr, double(step - 1) / double(o.steps - 1));
}

void check_lr_find_options(const LrFindOptions& o) {
  if (!(o.start_lr > 0) || !std::isfinite(o.start_lr))
    throw ConfigError("--start-lr must be a positive number (got " + significant(o.start_lr, 6) + ")");
  if (!(o.end_lr > o.start_lr) || !std::isfinite(o.end_lr))
    throw ConfigError("--end-lr must be larger than --start-lr (" + significant(o.start_lr, 6) + "), got " + significant(o.end_lr, 6));
  if (o.steps < 5) throw ConfigError("--steps must be at least 5 (got " + std::to_string(o.steps) + ")");
}

LrSuggestion suggest_learning_rate(const std::vector<LrFindPoint>& all_points, int planned_steps) {
  LrSuggestion s;
  const size_t skip_start = size_t(std::max(planned_steps, 0) / 10), skip_end = 5;
  if (all_points.size() < skip_start + skip_end + 5) return s;
  const std::vector<LrFindPoint> points(all_points.begin() + std::ptrdiff_t(skip_start),
                                        all_points.end() - std::ptrdiff_t(skip_end));
  size_t lowest = 0;
  for (size_t i = 1; i < points.size(); ++i)
    if (points[i].smoothed < points[lowest].smoothed) lowest = i;
  s.minimum_tenth = points[lowest].lr / 10;
  // The most negative slope of smoothed loss against log10(lr) (central differences, as
  // numpy.gradient), before the minimum: past it the loss is no longer falling.
  double steepest = 0;
  for (size_t i = 1; i + 1 < points.size() && i <= lowest; ++i) {
    const double slope = (points[i + 1].smoothed - points[i - 1].smoothed) /
                         (std::log10(points[i + 1].lr) - std::log10(points[i - 1].lr));
    if (slope < steepest) steepest = slope, s.steepest = points[i].lr, s.steepest_step = points[i].step;
  }
  return s;
}

LrFindResult find_learning_rate(const Config& config, const DatasetIndex& data, TransferModel& model,
                                const torch::Device& device, const LrFindOptions& options) {
  check_lr_find_options(options);
  LrFindResult result;
  LoaderOptions loader_options = training_loader_options(config, device, Shard{});
  loader_options.shuffle = true;
  if (config.data.augment.enabled()) loader_options.augment = config.data.augment;
  Loader loader(data.train, loader_options);
  std::optional<FeatureCache> cache;
  if (use_feature_cache(config, model, device, data.train.size())) {
    cache.emplace(model, data.train, loader_options, device);
    result.feature_cache = true;
  }
  EndlessBatches batches(loader, cache ? &*cache : nullptr, loader_options);

  auto optimizer = make_optimizer(config.optim, model.head_parameters(), model.trainable_backbone_parameters());
  const std::vector<torch::Tensor> params = optimizer_parameters(*optimizer);
  const TrainingLoss loss_fn(config.train.label_smoothing,
                             class_weight_tensor(config.train, data.train, data.classes.size()));
  model.train(true);
  torch::manual_seed(config.train.seed);  // the dropout draws

  double average = 0, lowest = INFINITY;
  result.stopped_because = "reached --end-lr";
  for (int step = 1; step <= options.steps; ++step) {
    const double lr = lr_at_step(options, step);
    auto& groups = optimizer->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(g == 0 ? lr : lr * config.optim.backbone_lr_mult);
    double sum = 0, denominator = 0;
    for (int micro = 0; micro < config.train.accumulate; ++micro) {  // one optimizer step, as in training
      const Batch batch = batches.next();
      const torch::Tensor x = batch.images.to(device), y = batch.labels.to(device);
      const LossTerms terms = loss_fn(cache ? model.forward_from_prefix(x) : model.forward(x), y);
      terms.sum.backward();
      sum += terms.sum.item<double>();
      denominator += terms.denominator;
    }
    const double loss = sum / denominator;
    if (!std::isfinite(loss)) {
      result.stopped_because = "the loss became " + std::string(std::isnan(loss) ? "NaN" : "Inf");
      break;
    }
    {
      torch::NoGradGuard no_grad;
      for (const auto& p : params)
        if (p.grad().defined()) p.mutable_grad().div_(denominator);
      if (config.train.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, config.train.clip_grad_norm);
      optimizer->step();
      for (auto p : params) p.mutable_grad().reset();
    }
    average = options.beta * average + (1 - options.beta) * loss;
    const double smoothed = average / (1 - std::pow(options.beta, step));
    result.points.push_back({step, lr, loss, smoothed});
    lowest = std::min(lowest, smoothed);
    if (step > 1 && smoothed > options.diverge * lowest) {
      result.stopped_because = "the smoothed loss passed " + significant(options.diverge, 6) + "x its minimum";
      break;
    }
  }
  result.suggestion = suggest_learning_rate(result.points, options.steps);
  return result;
}

std::string lr_find_csv(const LrFindResult& result) {
  std::string csv = "step,lr,loss,smoothed\n";
  for (const auto& p : result.points)
    csv += std::to_string(p.step) + "," + significant(p.lr, 6) + "," + significant(p.loss, 6) + "," + significant(p.smoothed, 6) + "\n";
  return csv;
}

}  // namespace tl
