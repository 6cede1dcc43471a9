// tl-train train: everything is checked (config, dataset, model, resume compatibility) before the
// run directory is touched; then the trainer runs and the final model is scored on the test split.
#include <csignal>
#include <filesystem>
#include <sstream>

#include "command_helpers.h"
#include "tl/checkpoint.h"
#include "tl/commands.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/evaluation_files.h"
#include "tl/fault_injection.h"
#include "tl/files.h"
#include "tl/html_report.h"
#include "tl/interrupts.h"
#include "tl/logging.h"
#include "tl/run_dir.h"
#include "tl/split_record.h"
#include "tl/trainer.h"
#include "tl/training_loss.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

// Keys a resumed run may not change: they decide the parameters and the optimizer's state.
const char* const kFixedForResume[] = {"model.freeze", "model.input_size", "model.head", "model.unfreeze_at",
                                       "optim.name"};

const Json* at_path(const Json& root, const std::string& dotted) {
  const Json* node = &root;
  std::stringstream ss(dotted);
  for (std::string part; std::getline(ss, part, '.');) {
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &(*node)[part];
  }
  return node;
}

// --resume: the state must be readable and the model-defining keys unchanged (nothing is written
// when they changed).
void check_resumable(const RunDirectory& run, const Config& config) {
  if (!run.has(run.resume_state())) return;  // nothing saved yet: the run starts from the beginning
  read_resume_state(run.resume_state());
  if (!run.has(run.config())) return;
  Json recorded;
  try {
    recorded = parse_json(read_file(run.config()));
  } catch (const std::exception&) {
    return;  // unreadable: the resume state's shapes are still checked
  }
  for (const char* key : kFixedForResume) {
    const Json* before = at_path(recorded, key);
    const Json* now = at_path(config.resolved, key);
    if (before && now && *before != *now)
      throw ConfigError("--resume: '" + std::string(key) + "' is " + dump_json(*now) + " but the run in " + run.dir() +
                        " was started with " + dump_json(*before) +
                        "; resume with the run's value or start afresh with --overwrite");
  }
}

// The run's data: the split recorded in split.json when resuming a started run, else a fresh scan.
DatasetIndex training_data(const Config& config, const RunDirectory& run, RunStart start) {
  if (start == RunStart::Resume && run.has(run.resume_state()) && run.has(run.split())) {
    const Json record = read_split_record(run.split());
    const std::string changed = changed_split_setting(record, config.data);
    if (!changed.empty())
      throw ConfigError("--resume: " + changed + " since the run in " + run.dir() +
                        " made its split; resume with the run's value or start afresh with --overwrite");
    const auto trained = record.at("classes").get<std::vector<std::string>>();
    if (record.value("root", "") != config.data.root) {  // a moved copy must hold the same classes
      const DatasetIndex there = scan_dataset(config.data);
      if (there.classes != trained)
        throw DataError("the dataset at " + printable(config.data.root) + " has " +
                        std::to_string(there.classes.size()) + " classes but the run in " + run.dir() +
                        " was trained on " + std::to_string(trained.size()) +
                        "; resume with the run's data.root or start afresh with --overwrite");
    }
    std::vector<std::string> current;
    try {
      current = list_dataset_files(config.data);
    } catch (const DataError&) {  // the folder is gone or changed shape: only the recorded files count
    }
    RecordedSplit split = split_from_record(record, config.data.root, current);
    if (split.index.train.empty())
      throw DataError("none of the training files of the split in " + run.split() + " exist under " +
                      printable(config.data.root) + "; resume with the dataset the run was trained on (data.root)");
    report_recorded_split(split, run.split());
    return std::move(split.index);
  }
  return scan_dataset(config.data, config.model.input_size);
}

void log_dataset(const DatasetIndex& data) {
  for (const auto& note : data.report.notes) spdlog::info("Dataset: {}", note);
  spdlog::info("Dataset {}: {} classes, {} train / {} val / {} test images\n{}", printable(data.root),
               data.classes.size(), data.train.size(), data.val.size(), data.test.size(), class_count_table(data));
  for (const auto& w : balance_warnings(data)) spdlog::warn("{}", w);
}

// Scores the run's final model on the test split into RUN/eval_test/.
void evaluate_final_model(const RunDirectory& run, const std::string& checkpoint, const DatasetIndex& data,
                          const torch::Device& device) {
  LoadedCheckpoint final_model = load_checkpoint(checkpoint, device);
  const EvalResult test = score_checkpoint(final_model, data.test, 0, device);
  const Json about{
      {"checkpoint", fs::path(checkpoint).filename().string()}, {"epoch", final_model.info.epoch}, {"split", "test"}};
  write_evaluation_files(run.eval_dir("test"), test, data.test, about);
  spdlog::info("Test split, {} (epoch {}):\n{}", fs::path(checkpoint).filename().string(), final_model.info.epoch,
               evaluation_text(test));
  spdlog::info("Test evaluation written to {}", run.eval_dir("test"));
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

int run_train(const CliOptions& o) {
  init_logging(/*to_stderr=*/false, o.quiet);
  Config config = load_config(o.config_path, o.overrides);
  if (!o.device.empty()) config.device = config.resolved["device"] = o.device;
  const RunStart start = o.resume ? RunStart::Resume : o.overwrite ? RunStart::Overwrite : RunStart::Fresh;
  RunDirectory run(config.train.out.empty() ? "runs/" + config.name : config.train.out);
  run.check_startable(start);
  const torch::Device device = resolve_device(config.device);
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // fixed input sizes: let cuDNN pick
  const int threads = configure_threads(config.threads);
  warn_if_slow_blas();
  use_plain_jit_executor();

  DatasetIndex data = training_data(config, run, start);
  log_dataset(data);
  const int64_t num_classes = static_cast<int64_t>(data.classes.size());
  if (config.model.num_classes > 0 && config.model.num_classes != num_classes)
    spdlog::warn("model.num_classes is {} but the dataset has {} classes; using {}", config.model.num_classes,
                 num_classes, num_classes);
  config.resolved["model"]["num_classes"] = num_classes;
  check_config_against_data(config, data);
  TransferModel model = build_model(config, num_classes);
  model.to(device);
  const ModelSummary summary = model.summary(config.model.input_size);
  if (start == RunStart::Resume) check_resumable(run, config);

  run.prepare(start);
  add_log_file(run.log());
  spdlog::info("Device: {}, threads: {}, BLAS: {}", device.str(), threads, blas_in_use());
  spdlog::info("Model: {} (freeze \"{}\", head {}): {} trainable / {} frozen parameters", config.model.backbone,
               config.model.freeze, model.head_spec().dump(), summary.trainable_params, summary.frozen_params);
  write_file_atomic(run.config(), dump_json(config.resolved, 2));
  const bool fresh_split = !(start == RunStart::Resume && run.has(run.split()) && run.has(run.resume_state()));
  const Json record = fresh_split ? split_record(data, config.data) : read_split_record(run.split());
  if (fresh_split) write_file_atomic(run.split(), dump_json(record, 1));

  install_interrupt_handlers();
  Parallel alone;
  const RunOutputs outputs(run, /*writer=*/true);
  Trainer trainer({config, data, model, device, outputs, alone,
                   [](int epoch, int64_t batch) {
                     if (batch > 0) fault_after_batch(epoch, batch);
                     return stop_signal();
                   },
                   split_digest(record)});
  const FitResult result = trainer.fit(start == RunStart::Resume);
  if (result.interrupted_by) return result.interrupted_by == SIGINT ? kExitInterrupted : kExitTerminated;
  // A finished run whose test evaluation was cut short (killed) does it now.
  const bool tested = run.has(run.eval_dir("test") + "/metrics.json");
  if (!(result.nothing_to_do && tested) && !data.test.empty() && config.train.eval_test &&
      run.has(result.final_checkpoint))
    evaluate_final_model(run, result.final_checkpoint, data, device);
  try {
    spdlog::info("Report: {}", write_run_report(run.dir(), device));
  } catch (const std::exception& e) {  // the run itself is complete: say so, and how to retry
    spdlog::warn("report.html was not written ({}); make it with: tl-train report {}", e.what(), run.dir());
  }
  spdlog::info("Done. Outputs in {}: {} (best.pt: epoch {})", run.dir(), joined(run.present_outputs()),
               result.best_epoch);
  return kExitOk;
}

}  // namespace tl
