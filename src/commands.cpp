#include "tl/commands.h"

#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <torch/csrc/jit/runtime/graph_executor.h>

#include "tl/checkpoint.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/evaluate.h"
#include "tl/files.h"
#include "tl/image.h"
#include "tl/loader.h"
#include "tl/logging.h"
#include "tl/model.h"
#include "tl/report.h"
#include "tl/trainer.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

// The files a run directory holds; --overwrite removes these and nothing else.
const std::vector<std::string> kRunOutputs{"best.pt", "last.pt", "last.resume.pt", "history.csv", "history.json",
                                           "curves.png", "config.json", "split.json", "train.log"};

std::string percent(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << 100 * v << "%";
  return s.str();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

LoaderOptions eval_loader_options(const CheckpointInfo& info, int batch, const torch::Device& device) {
  LoaderOptions o;
  o.batch_size = batch > 0 ? batch : info.config.train.batch_size;
  o.workers = info.config.data.workers;
  o.image_size = info.input_size;
  o.resize = info.resize;
  o.max_pixels = info.config.data.max_pixels;
  o.normalize = info.normalize;
  o.pin_memory = device.is_cuda();
  return o;
}

// Scores `samples` with the checkpoint's model and writes the evaluation files into `out_dir`.
EvalResult score_and_report(TransferModel& model, const CheckpointInfo& info, const std::vector<Sample>& samples,
                            int batch, const torch::Device& device, const std::string& out_dir) {
  Loader loader(samples, eval_loader_options(info, batch, device));
  loader.start_epoch(0);
  model.train(false);
  EvalResult result = evaluate([&] { return loader.next(); }, [&](const torch::Tensor& x) { return model.forward(x); },
                               info.classes, device);
  fs::create_directories(out_dir);
  write_file_atomic((fs::path(out_dir) / "confusion_matrix.csv").string(), result.confusion.to_csv());
  write_file_atomic((fs::path(out_dir) / "confusion_matrix.png").string(), render_confusion_png(result.confusion));
  write_file_atomic((fs::path(out_dir) / "metrics.json").string(), eval_to_json(result).dump(2));
  std::string misclassified = "path,true,predicted,probability\n";
  for (const auto& p : result.predictions)
    if (p.truth != p.predicted)
      misclassified += csv_field(samples[static_cast<size_t>(p.sample)].path) + "," + csv_field(info.classes[p.truth]) + "," +
                       csv_field(info.classes[p.predicted]) + "," + std::to_string(p.probability) + "\n";
  write_file_atomic((fs::path(out_dir) / "misclassified.csv").string(), misclassified);
  return result;
}

std::string eval_text(const EvalResult& r) {
  std::ostringstream out;
  out << "Accuracy: " << percent(r.accuracy) << "\n"
      << "Number of correctly identified images: " << r.correct << " of " << r.total << "\n";
  if (r.top5 >= 0) out << "Top-5 accuracy: " << percent(r.top5) << "\n";
  out << "Mean loss: " << std::fixed << std::setprecision(4) << r.loss << "\n\n"
      << r.confusion.to_text() << "\n"  // to_text() has its own "Confusion matrix (rows: true class, ...)" title
      << classification_report(r.confusion);
  return out.str();
}

// Evaluating a checkpoint or resuming a run needs the classes it was trained on.
void check_same_classes(const std::vector<std::string>& data_classes, const std::vector<std::string>& trained,
                        const std::string& root, const std::string& trained_what, const std::string& fix) {
  if (data_classes == trained) return;
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& c : v) s += (s.empty() ? "" : ", ") + c;
    return s;
  };
  throw DataError("the dataset at " + root + " has classes [" + join(data_classes) + "] but " + trained_what +
                  " was trained on [" + join(trained) + "]; " + fix);
}

// --resume: a readable resume state and the run's classes, checked before the run directory is touched.
void check_resumable(const std::string& run_dir, const DatasetIndex& data) {
  const RunFiles files(run_dir);
  if (!fs::exists(files.resume)) return;  // nothing saved yet: the run starts from the beginning
  read_resume_state(files.resume);
  if (!fs::exists(files.split)) return;
  Json split;
  try {
    split = Json::parse(read_file(files.split));
  } catch (const Json::exception&) {
    return;  // rewritten below; the resume state's shapes are still checked
  }
  check_same_classes(data.classes, split.value("classes", std::vector<std::string>{}), data.root,
                     "the run in " + run_dir,
                     "resume with the dataset it was trained on, or start a new run with --overwrite or another train.out");
}

// evaluate and predict run each model once per batch: skip TorchScript's profiling executor, whose
// first calls profile and optimise the graph (on a cold `predict` of one image this took ~55 ms of
// the first forward pass at 64 px) and which has nothing to fuse in a VGG on CPU.
void use_plain_jit_executor() { torch::jit::setGraphExecutorOptimize(false); }

torch::Device device_for(const std::string& override_spec, const std::string& config_spec) {
  return resolve_device(override_spec.empty() ? config_spec : override_spec);
}

// Refuses a non-empty run directory unless asked to resume or overwrite; checks it is writable.
void prepare_run_dir(const std::string& dir, const CliOptions& o) {
  std::error_code ec;
  const bool non_empty = fs::exists(dir) && !fs::is_empty(dir, ec);
  if (non_empty && !o.resume && !o.overwrite)
    throw UsageError("run directory " + dir + " is not empty; pass --resume to continue it, --overwrite to start afresh, or set train.out");
  if (fs::exists(dir) && !fs::is_directory(dir)) throw IoError(dir + ": exists and is not a directory; set train.out");
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir + ": cannot create the run directory (" + ec.message() + "); set train.out to a writable place");
  try {
    write_file_atomic((fs::path(dir) / ".write-test").string(), "ok");
    fs::remove(fs::path(dir) / ".write-test");
  } catch (const IoError& e) {
    throw IoError(dir + ": the run directory is not writable (" + e.what() + "); set train.out to a writable place");
  }
  int stale = remove_stale_temp_files(dir);
  if (stale) spdlog::info("Removed {} temporary file(s) left by an interrupted run in {}", stale, dir);
  if (o.overwrite && !o.resume)
    for (const auto& name : kRunOutputs) fs::remove(fs::path(dir) / name, ec);
}

}  // namespace

int run_train(const CliOptions& o) {
  init_logging(/*to_stderr=*/false, o.quiet);
  Config config = load_config(o.config_path, o.overrides);
  if (!o.device.empty()) config.device = config.resolved["device"] = o.device;
  const torch::Device device = resolve_device(config.device);
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // fixed input sizes: let cuDNN pick
  const int threads = configure_threads(config.threads);
  warn_if_slow_blas();
  const std::string run_dir = config.train.out.empty() ? "runs/" + config.name : config.train.out;
  {
    std::error_code ec;
    if (fs::exists(run_dir) && !fs::is_empty(run_dir, ec) && !o.resume && !o.overwrite)
      prepare_run_dir(run_dir, o);  // throws the "not empty" error before any work
  }

  DatasetIndex data = scan_dataset(config.data);
  spdlog::info("Dataset {} ({}): {} classes, {} train / {} val / {} test images\n{}", data.root, layout_name(data.layout),
               data.classes.size(), data.train.size(), data.val.size(), data.test.size(), class_count_table(data));
  for (const auto& w : balance_warnings(data)) spdlog::warn("{}", w);
  const int64_t num_classes = static_cast<int64_t>(data.classes.size());
  if (config.model.num_classes > 0 && config.model.num_classes != num_classes)
    spdlog::warn("model.num_classes is {} but the dataset has {} classes; using {}", config.model.num_classes, num_classes,
                 num_classes);
  config.resolved["model"]["num_classes"] = num_classes;
  if (o.resume) check_resumable(run_dir, data);

  torch::manual_seed(config.train.seed);
  TransferModel model = TransferModel::create(config.model, num_classes, config.train.seed);
  model.to(device);
  ModelSummary summary = model.summary(config.model.input_size);

  prepare_run_dir(run_dir, o);
  RunFiles files(run_dir);
  add_log_file(files.log);
  spdlog::info("Device: {}, threads: {}, BLAS: {}", device.str(), threads, blas_in_use());
  spdlog::info("Model: {} (freeze \"{}\", head {}): {} trainable / {} frozen parameters", config.model.backbone,
               config.model.freeze, model.head_spec().dump(), summary.trainable_params, summary.frozen_params);
  write_file_atomic(files.config, config.resolved.dump(2));
  write_file_atomic(files.split, split_to_json(data).dump(1));

  install_interrupt_handlers();
  FitResult result = fit(config, data, model, device, files, o.resume);
  if (result.interrupted_by) return result.interrupted_by == SIGINT ? kExitInterrupted : kExitTerminated;
  // A finished run whose test evaluation was cut short (killed) does it now.
  const bool tested = fs::exists(fs::path(run_dir) / "eval_test" / "metrics.json");
  if (result.nothing_to_do && tested) return kExitOk;

  if (!data.test.empty() && config.train.eval_test && fs::exists(files.best)) {
    LoadedCheckpoint best = load_checkpoint(files.best, device);
    const std::string out_dir = (fs::path(run_dir) / "eval_test").string();
    EvalResult test = score_and_report(best.model, best.info, data.test, 0, device, out_dir);
    spdlog::info("Test split, best.pt (epoch {}):\n{}", best.info.epoch, eval_text(test));
    spdlog::info("Test evaluation written to {}", out_dir);
  }
  spdlog::info("Done. Outputs in {}: best.pt (epoch {}), last.pt, history.csv, history.json, curves.png, config.json, "
               "split.json, train.log",
               run_dir, result.best_epoch);
  return kExitOk;
}

int run_evaluate(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet || o.json);
  use_plain_jit_executor();
  LoadedCheckpoint ckpt = load_checkpoint(o.checkpoint, torch::kCPU);
  const torch::Device device = device_for(o.device, ckpt.info.config.device);
  configure_threads(ckpt.info.config.threads);
  ckpt.model.to(device);
  DataConfig data_config = ckpt.info.config.data;
  if (!o.data_root.empty()) data_config.root = o.data_root;
  DatasetIndex data = scan_dataset(data_config);
  check_same_classes(data.classes, ckpt.info.classes, data.root, "the checkpoint", "pass the matching dataset with --data");
  const std::vector<Sample>& samples = data.split(o.split);
  if (samples.empty())
    throw DataError("the " + o.split + " split of " + data.root + " is empty; choose another with --split");
  const std::string out_dir =
      o.out_dir.empty() ? (fs::path(o.checkpoint).parent_path() / ("eval_" + o.split)).string() : o.out_dir;
  EvalResult result = score_and_report(ckpt.model, ckpt.info, samples, o.batch, device, out_dir);
  if (o.json) {
    std::cout << eval_to_json(result).dump() << std::endl;
  } else {
    std::cout << "Checkpoint " << o.checkpoint << " (epoch " << ckpt.info.epoch << ") on the " << o.split << " split of "
              << data.root << "\n\n"
              << eval_text(result) << "\nWrote confusion_matrix.csv, confusion_matrix.png, metrics.json, misclassified.csv to "
              << out_dir << "\n";
  }
  return kExitOk;
}

int run_predict(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet);
  use_plain_jit_executor();
  LoadedCheckpoint ckpt = load_checkpoint(o.checkpoint, torch::kCPU);
  const torch::Device device = device_for(o.device, ckpt.info.config.device);
  configure_threads(ckpt.info.config.threads);
  ckpt.model.to(device);
  ckpt.model.train(false);
  const CheckpointInfo& info = ckpt.info;

  int failures = 0;
  std::vector<std::string> files;
  for (const auto& input : o.inputs) {
    try {
      const std::vector<std::string> found = list_images(input);
      if (found.empty()) throw DataError("'" + input + "' holds no image files (jpg, jpeg, png, bmp, webp, tif, tiff)");
      files.insert(files.end(), found.begin(), found.end());
    } catch (const Error& e) {
      std::cerr << "tl-train: error: " << e.what() << "\n";
      ++failures;
    }
  }
  const size_t batch_size = o.batch > 0 ? static_cast<size_t>(o.batch) : 16;
  const int64_t k = std::min<int64_t>(o.top_k, static_cast<int64_t>(info.classes.size()));
  const int64_t s = info.input_size;
  torch::NoGradGuard no_grad;
  for (size_t begin = 0; begin < files.size(); begin += batch_size) {
    std::vector<std::string> paths;
    torch::Tensor images = torch::empty({static_cast<int64_t>(std::min(batch_size, files.size() - begin)), 3, s, s});
    for (size_t i = begin; i < std::min(files.size(), begin + batch_size); ++i) {
      try {
        cv::Mat rgb = load_image(files[i], s, info.resize, info.config.data.max_pixels);
        write_normalized(rgb, info.normalize, images[static_cast<int64_t>(paths.size())].data_ptr<float>());
        paths.push_back(files[i]);
      } catch (const std::exception& e) {
        std::cerr << "tl-train: error: " << files[i] << ": " << e.what() << "\n";
        ++failures;
      }
    }
    if (paths.empty()) continue;
    torch::Tensor x = images.narrow(0, 0, static_cast<int64_t>(paths.size())).to(device);
    torch::Tensor probs = torch::softmax(ckpt.model.forward(x), 1);
    if (o.tta == "flip") probs = (probs + torch::softmax(ckpt.model.forward(x.flip({3})), 1)) / 2;
    auto [top_p, top_i] = probs.cpu().topk(k, 1);
    for (size_t i = 0; i < paths.size(); ++i) {
      const auto row = static_cast<int64_t>(i);
      if (o.json) {
        Json top = Json::array();
        for (int64_t j = 0; j < k; ++j) {
          int64_t index = top_i[row][j].item<int64_t>();
          top.push_back({{"label", info.classes[static_cast<size_t>(index)]}, {"index", index}, {"prob", top_p[row][j].item<double>()}});
        }
        std::cout << Json{{"path", paths[i]}, {"top", top}}.dump() << "\n";
      } else {
        std::cout << paths[i] << "\n";
        for (int64_t j = 0; j < k; ++j)
          std::cout << "  " << std::fixed << std::setprecision(4) << top_p[row][j].item<double>() << "  "
                    << info.classes[static_cast<size_t>(top_i[row][j].item<int64_t>())] << "\n";
      }
    }
    std::cout.flush();
  }
  if (failures) std::cerr << "tl-train: " << failures << " input(s) could not be classified\n";
  return failures ? kExitPredict : kExitOk;
}

int run_summary(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet || o.json);
  Config config = load_config(o.config_path, o.overrides);
  int64_t num_classes = config.model.num_classes;
  if (num_classes <= 0) {
    if (config.data.root.empty())
      throw ConfigError(o.config_path + ": 'model.num_classes' is not set and there is no data.root to count classes; set one of them");
    num_classes = static_cast<int64_t>(scan_dataset(config.data).classes.size());
  }
  configure_threads(config.threads);
  TransferModel model = TransferModel::create(config.model, num_classes, config.train.seed);
  ModelSummary summary = model.summary(config.model.input_size);
  if (o.json) {
    std::cout << summary.to_json().dump() << std::endl;
  } else {
    std::cout << "Model: " << config.model.backbone << ", input " << config.model.input_size << "x" << config.model.input_size
              << ", " << num_classes << " classes, freeze \"" << config.model.freeze << "\"\n"
              << summary.to_text();
  }
  return kExitOk;
}

int run_command(const CliOptions& options) {
  try {
    switch (options.command) {
      case Command::Train: return run_train(options);
      case Command::Evaluate: return run_evaluate(options);
      case Command::Predict: return run_predict(options);
      case Command::Summary: return run_summary(options);
      case Command::None: break;
    }
    return kExitUsage;
  } catch (const Error& e) {
    // Several problems (a config with more than one mistake) come as several lines, each marked.
    std::string what = e.what();
    for (size_t at = what.find('\n'); at != std::string::npos; at = what.find('\n', at + 1))
      what.insert(at + 1, "tl-train: error: ");
    std::cerr << "tl-train: error: " << what << "\n";
    return e.exit_code();
  } catch (const c10::Error& e) {
    std::cerr << "tl-train: error: " << e.msg().substr(0, e.msg().find('\n')) << "\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::cerr << "tl-train: error: " << what.substr(0, what.find('\n')) << "\n";
    return kExitFailure;
  }
}

}  // namespace tl
