#include "tl/trainer.h"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <optional>
#include <sstream>

#include "tl/amp.h"
#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "tl/evaluate.h"
#include "tl/files.h"
#include "tl/loader.h"
#include "tl/logging.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

std::atomic<int> g_interrupt{0};

// The first SIGINT/SIGTERM asks for a clean stop after the current batch; a second one ends the
// process at once (the last checkpoint on disk is still intact: every write is atomic).
extern "C" void on_interrupt(int sig) {
  if (g_interrupt.exchange(sig) != 0) ::_exit(128 + sig);
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string fixed(double v, int digits = 4) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

std::string lr_text(double lr) {
  std::ostringstream s;
  s << std::scientific << std::setprecision(2) << lr;
  return s.str();
}

// Training batches straight from the images, or from cached outputs of the frozen prefix.
struct FeatureCache {
  torch::Tensor features;            // [N, ...] prefix outputs, in sample order (bad samples absent)
  std::vector<int64_t> row_of;       // sample index -> row in `features`, -1 when it failed to decode
  torch::Tensor labels;              // [N] int64, per row
};

FeatureCache build_feature_cache(TransferModel& model, const std::vector<Sample>& samples, const LoaderOptions& base,
                                 const torch::Device& device) {
  LoaderOptions options = base;
  options.shuffle = false;
  options.augment.reset();
  options.drop_last = false;
  Loader loader(samples, options);
  loader.start_epoch(0);
  FeatureCache cache;
  cache.row_of.assign(samples.size(), -1);
  std::vector<torch::Tensor> parts, labels;
  int64_t row = 0;
  model.train(false);
  while (auto batch = loader.next()) {
    parts.push_back(model.forward_prefix(batch->images.to(device)).cpu());
    labels.push_back(batch->labels);
    for (int64_t index : batch->indices) cache.row_of[static_cast<size_t>(index)] = row++;
  }
  if (!parts.empty()) {
    cache.features = torch::cat(parts);
    cache.labels = torch::cat(labels);
  }
  return cache;
}

// Batches of cached features in the same order (and with the same composition) as the loader
// would give for that epoch, so cached and uncached runs see the same batches.
class CachedBatches {
 public:
  CachedBatches(const FeatureCache& cache, int64_t batch_size, bool shuffle, bool drop_last, uint64_t seed, int64_t epoch)
      : cache_(cache), batch_size_(batch_size), drop_last_(drop_last),
        order_(epoch_order(static_cast<int64_t>(cache.row_of.size()), seed, epoch, shuffle)) {}

  std::optional<Batch> next() {
    while (position_ < order_.size()) {
      size_t end = std::min(order_.size(), position_ + static_cast<size_t>(batch_size_));
      if (drop_last_ && end - position_ < static_cast<size_t>(batch_size_)) return std::nullopt;
      Batch batch;
      std::vector<int64_t> rows;
      for (size_t i = position_; i < end; ++i) {
        int64_t row = cache_.row_of[static_cast<size_t>(order_[i])];
        if (row < 0) continue;
        rows.push_back(row);
        batch.indices.push_back(order_[i]);
      }
      position_ = end;
      if (rows.empty()) continue;
      torch::Tensor index = torch::tensor(rows, torch::kLong);
      batch.images = cache_.features.index_select(0, index);
      batch.labels = cache_.labels.index_select(0, index);
      return batch;
    }
    return std::nullopt;
  }

 private:
  const FeatureCache& cache_;
  int64_t batch_size_;
  bool drop_last_;
  std::vector<int64_t> order_;
  size_t position_ = 0;
};

LoaderOptions loader_options(const Config& config, const torch::Device& device) {
  LoaderOptions o;
  o.batch_size = config.train.batch_size;
  o.drop_last = config.data.drop_last;
  o.seed = config.train.seed;
  o.workers = config.data.workers;
  o.image_size = config.model.input_size;
  o.resize = config.data.resize;
  o.max_pixels = config.data.max_pixels;
  o.normalize = config.data.normalize;
  o.cache_memory = config.data.cache == "memory";
  o.cache_bytes = config.data.cache_bytes;
  o.fail_on_bad_image = config.data.on_bad_image == "fail";
  o.pin_memory = device.is_cuda();
  return o;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& o, std::vector<torch::Tensor> head,
                                                        std::vector<torch::Tensor> backbone) {
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
  if (o.name == "sgd") {
    auto opts = torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay);
    return std::make_unique<torch::optim::SGD>(groups(opts), opts);
  }
  if (o.name == "adamw") {
    auto opts = torch::optim::AdamWOptions(o.lr).betas({o.betas[0], o.betas[1]}).eps(o.eps).weight_decay(o.weight_decay).amsgrad(o.amsgrad);
    return std::make_unique<torch::optim::AdamW>(groups(opts), opts);
  }
  auto opts = torch::optim::AdamOptions(o.lr).betas({o.betas[0], o.betas[1]}).eps(o.eps).weight_decay(o.weight_decay).amsgrad(o.amsgrad);
  return std::make_unique<torch::optim::Adam>(groups(opts), opts);
}

torch::Tensor class_weight_tensor(const TrainConfig& t, const DatasetIndex& data) {
  const size_t k = data.classes.size();
  if (t.class_weights_mode == "list") {
    if (t.class_weights.size() != k)
      throw ConfigError("train.class_weights has " + std::to_string(t.class_weights.size()) + " weights but the dataset has " +
                        std::to_string(k) + " classes");
    return torch::tensor(t.class_weights, torch::kFloat32);
  }
  if (t.class_weights_mode != "balanced") return {};
  // sklearn's "balanced": n_samples / (n_classes * count_c).
  std::vector<double> counts(k, 0);
  for (const auto& s : data.train) counts[static_cast<size_t>(s.label)] += 1;
  std::vector<double> w(k);
  for (size_t c = 0; c < k; ++c) w[c] = counts[c] > 0 ? data.train.size() / (k * counts[c]) : 0.0;
  return torch::tensor(w, torch::kFloat32);
}

// A progress bar on a terminal, a plain line every ~30 s otherwise (CI logs).
class Progress {
 public:
  Progress(int epoch, int epochs, int64_t batches) : epoch_(epoch), epochs_(epochs), batches_(batches), tty_(::isatty(1)) {}
  void update(int64_t done, int64_t images, double loss, double acc) {
    double elapsed = seconds_since(start_);
    double rate = elapsed > 0 ? images / elapsed : 0;
    double eta = done > 0 ? elapsed / done * (batches_ - done) : 0;
    std::ostringstream line;
    line << "  " << done << "/" << batches_ << " - " << fixed(rate, 1) << " img/s - ETA " << static_cast<int>(eta)
         << "s - loss: " << fixed(loss) << " - acc: " << fixed(acc);
    if (tty_) {
      const int width = 20;
      int filled = batches_ ? static_cast<int>(width * done / batches_) : width;
      std::string bar = "[" + std::string(filled, '=') + (filled < width ? ">" : "") + std::string(std::max(0, width - filled - 1), '.') + "]";
      std::fprintf(stdout, "\r\033[K%s%s", bar.c_str(), line.str().c_str());
      std::fflush(stdout);
    } else if (seconds_since(last_print_) > 30 || (done == batches_ && elapsed > 30)) {
      spdlog::info("Epoch {}/{}{}", epoch_, epochs_, line.str());
      last_print_ = Clock::now();
    }
  }
  void finish() {
    if (tty_) std::fprintf(stdout, "\r\033[K"), std::fflush(stdout);
  }

 private:
  int epoch_, epochs_;
  int64_t batches_;
  bool tty_;
  Clock::time_point start_ = Clock::now(), last_print_ = Clock::now();
};

struct FitState {
  int epochs_done = 0;
  std::vector<EpochRecord> history;
  ImprovementTracker checkpoint, early, plateau;
  double plateau_factor = 1.0;
  int best_epoch = 0;
  bool stopped_early = false;
  // Mid-epoch interruption: how far the interrupted epoch got.
  int64_t batches_done = 0;
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;

  Json to_json() const {
    return Json{{"epochs_done", epochs_done}, {"history", history_to_json(history)}, {"checkpoint", checkpoint.to_json()},
                {"early", early.to_json()}, {"plateau", plateau.to_json()}, {"plateau_factor", plateau_factor},
                {"best_epoch", best_epoch}, {"stopped_early", stopped_early}, {"batches_done", batches_done},
                {"loss_sum", loss_sum}, {"correct", correct}, {"seen", seen}};
  }
  void from_json(const Json& j) {
    epochs_done = j.at("epochs_done");
    history = history_from_json(j.at("history"));
    checkpoint.from_json(j.at("checkpoint"));
    early.from_json(j.at("early"));
    plateau.from_json(j.at("plateau"));
    plateau_factor = j.at("plateau_factor");
    best_epoch = j.at("best_epoch");
    stopped_early = j.at("stopped_early");
    batches_done = j.at("batches_done");
    loss_sum = j.at("loss_sum");
    correct = j.at("correct");
    seen = j.at("seen");
  }
};

}  // namespace

RunFiles::RunFiles(std::string run_dir) : dir(std::move(run_dir)) {
  auto in = [&](const char* name) { return (fs::path(dir) / name).string(); };
  best = in("best.pt");
  last = in("last.pt");
  resume = in("last.resume.pt");
  history_csv = in("history.csv");
  history_json = in("history.json");
  curves = in("curves.png");
  config = in("config.json");
  split = in("split.json");
  log = in("train.log");
}

bool ImprovementTracker::improves(double value) const {
  if (std::isnan(value)) return false;
  if (!has_best_) return true;
  return maximize_ ? value > best_ + min_delta_ : value < best_ - min_delta_;
}

bool ImprovementTracker::update(double value) {
  if (improves(value)) {
    best_ = value, has_best_ = true, wait_ = 0;
    return false;
  }
  if (++wait_ <= patience_) return false;
  wait_ = 0;
  return true;
}

Json ImprovementTracker::to_json() const { return Json{{"best", best_}, {"has_best", has_best_}, {"wait", wait_}}; }

void ImprovementTracker::from_json(const Json& j) {
  best_ = j.at("best");
  has_best_ = j.at("has_best");
  wait_ = j.at("wait");
}

double monitored_value(const EpochRecord& r, const std::string& name) {
  if (name == "loss") return r.loss;
  if (name == "acc") return r.acc;
  if (name == "val_acc") return r.val_acc;
  return r.val_loss;
}

bool monitor_maximizes(const std::string& name, const std::string& mode) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  return name.find("acc") != std::string::npos;
}

double schedule_factor(const ScheduleConfig& s, int epoch, int total_epochs) {
  double warmup = 1.0;
  if (s.warmup_epochs > 0 && epoch <= s.warmup_epochs) warmup = static_cast<double>(epoch) / (s.warmup_epochs + 1);
  if (s.name == "step") return warmup * std::pow(s.gamma, (epoch - 1) / s.step_size);
  if (s.name == "cosine") {
    int span = std::max(1, total_epochs - s.warmup_epochs);
    int t = std::max(0, epoch - 1 - s.warmup_epochs);
    return warmup * 0.5 * (1 + std::cos(M_PI * t / span));
  }
  return warmup;
}

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int interrupt_signal() { return g_interrupt.load(); }

FitResult fit(const Config& config, const DatasetIndex& data, TransferModel& model, const torch::Device& device,
              const RunFiles& files, bool resume) {
  const TrainConfig& tc = config.train;
  const auto& classes = data.classes;
  auto optimizer = make_optimizer(config.optim, model.head_parameters(), model.trainable_backbone_parameters());
  std::vector<double> base_lr{config.optim.lr, config.optim.lr * config.optim.backbone_lr_mult};

  // Replays the unfreeze schedule up to `epoch`: thawed parameters join the backbone group.
  auto apply_unfreeze = [&](int epoch) {
    auto it = config.model.unfreeze_at.find(epoch);
    if (it == config.model.unfreeze_at.end()) return false;
    auto before = model.trainable_backbone_parameters();
    model.set_freeze(it->second);
    auto& group = optimizer->param_groups()[1].params();
    for (auto& p : model.trainable_backbone_parameters())
      if (std::none_of(before.begin(), before.end(), [&](const torch::Tensor& b) { return b.is_same(p); })) group.push_back(p);
    return true;
  };

  // Without a validation split, val_* monitors fall back to the training metric (with a warning).
  auto monitor_name = [&](const std::string& name) {
    if (!data.val.empty() || name.rfind("val_", 0) != 0) return name;
    spdlog::warn("no validation split: monitoring '{}' instead of '{}'", name.substr(4), name);
    return name.substr(4);
  };
  const auto& es = tc.early_stopping;
  FitState state;
  const std::string checkpoint_monitor = monitor_name(tc.monitor);
  state.checkpoint = ImprovementTracker(checkpoint_monitor, monitor_maximizes(checkpoint_monitor, tc.mode));
  const std::string early_monitor = es.monitor.empty() ? checkpoint_monitor : monitor_name(es.monitor);
  state.early = ImprovementTracker(early_monitor, monitor_maximizes(early_monitor, es.monitor.empty() ? tc.mode : "auto"),
                                   es.min_delta, es.patience);
  const std::string plateau_monitor = monitor_name(config.optim.schedule.monitor);
  state.plateau = ImprovementTracker(plateau_monitor, monitor_maximizes(plateau_monitor, "auto"), 0,
                                     config.optim.schedule.patience);

  if (resume && fs::exists(files.resume)) {
    // Rebuild the parameter groups as they were, then restore every value.
    Json saved_state;
    {
      torch::serialize::InputArchive probe;
      probe.load_from(files.resume);
      c10::IValue text;
      probe.read("state", text);
      saved_state = Json::parse(text.toStringRef());
    }
    int done = saved_state.at("epochs_done").get<int>() + (saved_state.at("batches_done").get<int64_t>() > 0 ? 1 : 0);
    for (int e = 1; e <= done; ++e) apply_unfreeze(e);
    state.from_json(load_resume_state(files.resume, model, *optimizer));
    if (state.stopped_early || (state.epochs_done >= tc.epochs && state.batches_done == 0)) {
      spdlog::info("Nothing left to do: the run in {} finished after epoch {}", files.dir, state.epochs_done);
      FitResult r;
      r.history = state.history;
      r.best_epoch = state.best_epoch;
      r.nothing_to_do = true;
      return r;
    }
    spdlog::info("Resuming {} after epoch {}{}", files.dir, state.epochs_done,
                 state.batches_done ? " (+" + std::to_string(state.batches_done) + " batches)" : "");
  } else if (resume) {
    spdlog::info("No resume state in {} yet: starting from the beginning", files.dir);
  }

  LoaderOptions train_options = loader_options(config, device);
  train_options.shuffle = true;
  if (config.data.augment.enabled()) train_options.augment = config.data.augment;
  LoaderOptions eval_options = loader_options(config, device);
  eval_options.drop_last = false;
  Loader train_loader(data.train, train_options);
  Loader val_loader(data.val, eval_options);

  // The frozen-feature cache: valid while nothing random happens before the first trainable stage.
  std::optional<FeatureCache> train_cache, val_cache;
  size_t cached_prefix = 0;
  auto refresh_cache = [&]() {
    train_cache.reset();
    val_cache.reset();
    std::string why;
    if (tc.feature_cache == "off") why = "train.feature_cache is \"off\"";
    else if (model.prefix_stages() == 0) why = "no frozen layers";
    else if (config.data.augment.enabled()) why = "augmentation changes the frozen layers' input every epoch";
    if (why.empty()) {
      torch::Tensor probe = model.forward_prefix(torch::zeros({1, 3, config.model.input_size, config.model.input_size}, device));
      int64_t bytes = probe.numel() * 4 * static_cast<int64_t>(data.train.size() + data.val.size());
      if (bytes > tc.feature_cache_bytes)
        why = "needs " + std::to_string(bytes >> 20) + " MiB, over train.feature_cache_bytes";
      else {
        auto start = Clock::now();
        train_cache = build_feature_cache(model, data.train, train_options, device);
        if (!data.val.empty()) val_cache = build_feature_cache(model, data.val, eval_options, device);
        spdlog::info("Feature cache: on ({} frozen stages, {} MiB, built in {:.1f}s)", model.prefix_stages(), bytes >> 20,
                     seconds_since(start));
      }
    }
    if (!why.empty()) spdlog::info("Feature cache: off ({})", why);
    cached_prefix = model.prefix_stages();
  };
  refresh_cache();

  torch::Tensor weights = class_weight_tensor(tc, data);
  auto ce_options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(tc.label_smoothing);
  if (weights.defined()) ce_options.weight(weights.to(device));

  // CUDA only: mixed precision (train.amp) and channels-last memory (train.channels_last).
  LossScaler scaler(device, tc.amp);
  const bool channels_last = tc.channels_last && device.is_cuda();
  if (channels_last) to_channels_last(model.all_parameters());

  FitResult result;
  for (int epoch = state.epochs_done + 1; epoch <= tc.epochs; ++epoch) {
    const bool continuing = state.batches_done > 0;
    if (!continuing && apply_unfreeze(epoch)) {
      spdlog::info("Epoch {}: unfreezing to \"{}\" ({} trainable backbone tensors)", epoch, model.freeze_spec(),
                   model.trainable_backbone_parameters().size());
    }
    if (model.prefix_stages() != cached_prefix) refresh_cache();
    const double factor = schedule_factor(config.optim.schedule, epoch, tc.epochs) * state.plateau_factor;
    for (size_t g = 0; g < optimizer->param_groups().size(); ++g) {
      double lr = base_lr[std::min<size_t>(g, 1)] * factor;
      if (config.optim.schedule.name == "plateau") lr = std::max(lr, config.optim.schedule.min_lr);
      optimizer->param_groups()[g].options().set_lr(lr);
    }
    const double lr = optimizer->param_groups()[0].options().get_lr();
    // Dropout draws come from the global generator: seed it per epoch so a resumed run repeats them.
    if (!continuing) torch::manual_seed(tc.seed * 1000003ULL + static_cast<uint64_t>(epoch));

    auto start = Clock::now();
    model.train(true);
    std::optional<CachedBatches> cached;
    if (train_cache) cached.emplace(*train_cache, tc.batch_size, true, config.data.drop_last, tc.seed, epoch);
    else train_loader.start_epoch(epoch);
    auto next_batch = [&]() { return cached ? cached->next() : train_loader.next(); };
    const int64_t batches = train_loader.batches_per_epoch();
    Progress progress(epoch, tc.epochs, batches);
    int64_t batch_index = 0;
    double loss_sum = continuing ? state.loss_sum : 0;
    int64_t correct = continuing ? state.correct : 0, seen = continuing ? state.seen : 0;
    optimizer->zero_grad();
    while (auto batch = next_batch()) {
      if (batch_index++ < state.batches_done) continue;  // already trained before the interruption
      torch::Tensor x = batch->images.to(device, true), y = batch->labels.to(device, true);
      if (channels_last && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      torch::Tensor logits, loss;
      {
        AutocastScope autocast(device, tc.amp);
        logits = cached ? model.forward_from_prefix(x) : model.forward(x);
        loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), y, ce_options);
      }
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        progress.finish();
        throw TrainingError("loss became " + std::string(std::isnan(loss_value) ? "NaN" : "Inf") + " at epoch " +
                            std::to_string(epoch) + ", batch " + std::to_string(batch_index) +
                            "; the last good checkpoint is kept (" + files.last +
                            "); lower optim.lr or set train.clip_grad_norm");
      }
      scaler.scale(tc.accumulate > 1 ? loss / tc.accumulate : loss).backward();
      if (batch_index % tc.accumulate == 0 || batch_index == batches) {
        std::vector<torch::Tensor> params;
        for (auto& group : optimizer->param_groups())
          for (auto& p : group.params()) params.push_back(p);
        const bool finite = scaler.unscale(params);
        if (tc.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, tc.clip_grad_norm);
        if (finite) optimizer->step();  // fp16: a step whose gradients overflowed is skipped
        scaler.update(finite);
        // Dropping the gradients (instead of zeroing them) avoids a memset per parameter per step.
        for (auto& group : optimizer->param_groups())
          for (auto& p : group.params()) p.mutable_grad().reset();
      }
      const int64_t n = y.size(0);
      loss_sum += loss_value * n;
      correct += (logits.argmax(1) == y).sum().item<int64_t>();
      seen += n;
      progress.update(batch_index, seen, loss_sum / seen, static_cast<double>(correct) / seen);
      if (interrupt_signal() && batch_index < batches) {
        progress.finish();
        state.batches_done = batch_index;
        state.loss_sum = loss_sum, state.correct = correct, state.seen = seen;
        save_resume_state(files.resume, model, *optimizer, state.to_json());
        spdlog::warn("interrupted by {} during epoch {} after batch {}: resumable state saved to {}; continue with --resume",
                     interrupt_signal() == SIGINT ? "SIGINT" : "SIGTERM", epoch, batch_index, files.resume);
        result.history = state.history;
        result.interrupted_by = interrupt_signal();
        return result;
      }
    }
    progress.finish();
    state.batches_done = 0;
    if (seen == 0) throw DataError("epoch " + std::to_string(epoch) + " had no usable training image");

    EpochRecord record;
    record.epoch = epoch;
    record.loss = loss_sum / seen;
    record.acc = static_cast<double>(correct) / seen;
    record.lr = lr;
    model.train(false);
    if (!data.val.empty()) {
      AutocastScope autocast(device, tc.amp);
      std::optional<CachedBatches> val_batches;
      if (val_cache) val_batches.emplace(*val_cache, tc.batch_size, false, false, tc.seed, 0);
      else val_loader.start_epoch(0);
      EvalResult val = evaluate([&] { return val_batches ? val_batches->next() : val_loader.next(); },
                                [&](const torch::Tensor& x) { return val_batches ? model.forward_from_prefix(x) : model.forward(x); },
                                classes, device);
      record.val_loss = val.loss;
      record.val_acc = val.accuracy;
    } else {
      record.val_loss = record.val_acc = std::nan("");
    }
    record.seconds = seconds_since(start);
    state.history.push_back(record);
    state.epochs_done = epoch;

    std::ostringstream line;
    line << "Epoch " << epoch << "/" << tc.epochs << " - " << fixed(record.seconds, 1) << "s - loss: " << fixed(record.loss)
         << " - acc: " << fixed(record.acc);
    if (!data.val.empty()) line << " - val_loss: " << fixed(record.val_loss) << " - val_acc: " << fixed(record.val_acc);
    line << " - lr: " << lr_text(lr);
    spdlog::info(line.str());

    // Checkpoints: last.pt every epoch, best.pt when the monitored value improves (Keras' save_best_only).
    const double value = monitored_value(record, state.checkpoint.name());
    Json metrics{{"loss", record.loss}, {"acc", record.acc}, {"val_loss", std::isnan(record.val_loss) ? Json(nullptr) : Json(record.val_loss)},
                 {"val_acc", std::isnan(record.val_acc) ? Json(nullptr) : Json(record.val_acc)}};
    const std::string& monitor = state.checkpoint.name();
    if (state.checkpoint.improves(value)) {
      spdlog::info("{} {} to {}, saving best.pt", monitor,
                   state.checkpoint.has_best() ? "improved from " + fixed(state.checkpoint.best(), 5) : "is", fixed(value, 5));
      state.best_epoch = epoch;
      model.save(files.best, checkpoint_meta(config, classes, model, epoch, metrics));
    } else {
      spdlog::info("{} did not improve from {}", monitor, fixed(state.checkpoint.best(), 5));
    }
    state.checkpoint.update(value);

    // Early stopping (Keras semantics: stop after `patience` epochs without an improvement > min_delta).
    if (es.enabled && state.early.update(monitored_value(record, state.early.name()))) {
      state.stopped_early = true;
      spdlog::info("Early stopping: {} has not improved for {} epochs", state.early.name(), es.patience + 1);
    }
    if (config.optim.schedule.name == "plateau" && state.plateau.update(monitored_value(record, state.plateau.name()))) {
      state.plateau_factor *= config.optim.schedule.factor;
      spdlog::info("Reducing learning rate: {} has not improved for {} epochs", state.plateau.name(),
                   config.optim.schedule.patience + 1);
    }

    model.save(files.last, checkpoint_meta(config, classes, model, epoch, metrics));
    save_resume_state(files.resume, model, *optimizer, state.to_json());
    write_file_atomic(files.history_json, history_to_json(state.history).dump(2));
    write_file_atomic(files.history_csv, history_to_csv(state.history));
    write_file_atomic(files.curves, render_curves_png(state.history));
    // main() keeps freed memory in the heap for the training steps (no trimming, a high mmap
    // threshold); the loader's decoding then fragments it and the resident size crept up ~4 MB an
    // epoch (VGG16 at 64 px). Handing the free pages back once an epoch keeps it flat.
    malloc_trim(0);
    if (state.stopped_early) break;
    if (interrupt_signal()) {
      result.interrupted_by = interrupt_signal();
      spdlog::warn("interrupted after epoch {}: state saved; continue with --resume", epoch);
      break;
    }
  }

  if (es.enabled && es.restore_best && state.best_epoch > 0 && state.best_epoch != state.epochs_done) {
    spdlog::info("Restoring the weights of the best epoch ({})", state.best_epoch);
    LoadedCheckpoint best = load_checkpoint(files.best, device);
    auto source = best.model.all_parameters();
    auto target = model.all_parameters();
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < target.size(); ++i) target[i].copy_(source[i]);
  }
  result.history = state.history;
  result.best_epoch = state.best_epoch;
  result.best_value = state.checkpoint.best();
  result.stopped_early = state.stopped_early;
  return result;
}

}  // namespace tl
