// tl-train train: everything is checked (config, dataset, model, resume compatibility) before the
// run directory is touched; then the trainer runs and the final model is scored on the test split.
#include <csignal>
#include <thread>
#include <filesystem>
#include <sstream>

#include "command_helpers.h"
#include "tl/c10d_parallel.h"
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
#include "tl/launcher.h"
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

// What must be the same on every rank: the config (less what may differ per host), the classes
// and the split.
std::string run_fingerprint(const Config& config, const DatasetIndex& data, const std::string& split) {
  Json shared = config.resolved;
  shared.erase("threads"), shared.erase("device");
  shared["data"].erase("root"), shared["data"].erase("workers"), shared["train"].erase("out");
  std::string classes;
  for (const auto& c : data.classes) classes += c + '\n';
  return std::to_string(std::hash<std::string>{}(dump_json(shared))) + " classes " +
         std::to_string(std::hash<std::string>{}(classes)) + " split " + split;
}

// Every rank compares its fingerprint with rank 0's; all learn which ranks differ.
void check_same_run_everywhere(Parallel& parallel, const std::string& fingerprint) {
  std::string rank0 = fingerprint;
  parallel.broadcast(rank0);
  std::vector<double> differs(size_t(parallel.world_size()), 0.0);
  differs[size_t(parallel.rank())] = rank0 != fingerprint;
  parallel.sum(differs);
  std::string ranks;
  for (size_t r = 0; r < differs.size(); ++r)
    if (differs[r] > 0) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  if (!ranks.empty())
    throw DistError("rank(s) " + ranks + " have a different config, class list or split than rank 0; start every " +
                    "rank with the same config, --set overrides and dataset");
}

// Runs `step` on rank 0 only; a failure there ends every rank with the same error.
template <typename Step>
void on_rank0_for_all(Parallel& parallel, Step step) {
  std::string failure;
  int code = 0;
  if (parallel.rank() == 0) {
    try {
      step();
    } catch (const Error& e) {
      failure = e.what(), code = e.exit_code();
    }
  }
  std::string message = failure.empty() ? "" : std::to_string(code) + " " + failure;
  parallel.broadcast(message);
  if (message.empty()) return;
  const size_t space = message.find(' ');
  const int exit_code = std::stoi(message.substr(0, space));
  throw Error((parallel.rank() == 0 ? "" : "rank 0: ") + message.substr(space + 1), exit_code);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The device this process trains on: a data-parallel worker's "cuda" is the GPU of its local rank.
torch::Device training_device(const Config& config, const std::optional<DistLaunch>& launch) {
  torch::Device device = resolve_device(config.device);
  if (launch && device.is_cuda() && !device.has_index()) device = torch::Device(torch::kCUDA, launch->local_rank);
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // fixed input sizes: let cuDNN pick
  return device;
}

// Workers on one host share its cores unless `threads` says otherwise.
int training_threads(const Config& config, const std::optional<DistLaunch>& launch) {
  if (!launch || config.threads != 0) return config.threads;
  return std::max(1, int(std::thread::hardware_concurrency()) / launch->local_world_size);
}

void log_run_start(const Config& config, const std::optional<DistLaunch>& launch, const torch::Device& device,
                   int threads, TransferModel& model, const ModelSummary& summary) {
  if (launch)
    spdlog::info("Data parallel: rank {} of {} (local rank {} of {}), master {}:{}, Gloo, batch {} per rank = {} per step",
                 launch->rank, launch->world_size, launch->local_rank, launch->local_world_size, launch->master_addr,
                 launch->master_port, config.train.batch_size, config.train.batch_size * launch->world_size);
  spdlog::info("Device: {}, threads: {}, BLAS: {}", device.str(), threads, blas_in_use());
  spdlog::info("Model: {} (freeze \"{}\", head {}): {} trainable / {} frozen parameters", config.model.backbone,
               config.model.freeze, model.head_spec().dump(), summary.trainable_params, summary.frozen_params);
}

// After training: the test evaluation (also when an earlier run was killed before it), the
// report, and the closing line.
void finish_run(const RunDirectory& run, const FitResult& result, const DatasetIndex& data, const Config& config,
                const torch::Device& device) {
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
}

}  // namespace

int run_train(const CliOptions& o) {
  std::optional<DistLaunch> launch = launch_from_environment();
  if (!launch && (o.nproc > 0 || o.nnodes > 1)) {  // the launcher: start this host's workers
    CliOptions workers = o;
    workers.nproc = std::max(1, o.nproc);
    return run_local_workers(workers);
  }
  if (launch && launch->local_addr.empty()) launch->local_addr = o.local_addr;
  const int rank = launch ? launch->rank : 0;
  init_logging(/*to_stderr=*/false, o.quiet || rank != 0);  // the other ranks: warnings and errors
  Config config = load_config(o.config_path, o.overrides);
  if (!o.device.empty()) config.device = config.resolved["device"] = o.device;
  const RunStart start = o.resume ? RunStart::Resume : o.overwrite ? RunStart::Overwrite : RunStart::Fresh;
  RunDirectory run(config.train.out.empty() ? "runs/" + config.name : config.train.out);
  if (!launch) run.check_startable(start);
  const torch::Device device = training_device(config, launch);
  const int threads = configure_threads(training_threads(config, launch));
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

  std::unique_ptr<Parallel> parallel = launch ? join_process_group(*launch, config.dist, device)
                                              : std::make_unique<Parallel>();
  const bool fresh_split = !(start == RunStart::Resume && run.has(run.split()) && run.has(run.resume_state()));
  const Json record = fresh_split ? split_record(data, config.data) : read_split_record(run.split());
  if (launch) check_same_run_everywhere(*parallel, run_fingerprint(config, data, split_digest(record)));
  on_rank0_for_all(*parallel, [&] {
    if (launch) run.check_startable(start);
    if (start == RunStart::Resume) check_resumable(run, config);
    run.prepare(start);
  });
  if (rank == 0) {
    add_log_file(run.log());
  } else if (fs::is_directory(run.dir())) {  // the same host (or a shared file system) as rank 0
    add_log_file((fs::path(run.dir()) / ("train.rank" + std::to_string(rank) + ".log")).string());
  }
  log_run_start(config, launch, device, threads, model, summary);
  if (rank == 0) {
    write_file_atomic(run.config(), dump_json(config.resolved, 2));
    if (fresh_split) write_file_atomic(run.split(), dump_json(record, 1));
  }

  install_interrupt_handlers();
  // Every rank starts from rank 0's weights (seeds alone are not a promise across hosts).
  std::vector<torch::Tensor> state = model.all_parameters();
  for (const auto& b : model.buffers()) state.push_back(b);
  parallel->broadcast_tensors(state);
  const RunOutputs outputs(run, /*writer=*/parallel->is_writer());
  Trainer trainer({config, data, model, device, outputs, *parallel,
                   [](int epoch, int64_t batch) {
                     if (batch > 0) fault_after_batch(epoch, batch);
                     return stop_signal();
                   },
                   split_digest(record)});
  const FitResult result = trainer.fit(start == RunStart::Resume);
  if (result.interrupted_by) return result.interrupted_by == SIGINT ? kExitInterrupted : kExitTerminated;
  if (rank == 0) finish_run(run, result, data, config, device);  // rank 0 scores the final model
  return kExitOk;
}

}  // namespace tl
