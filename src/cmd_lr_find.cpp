// tl-train lr-find: the learning-rate range test on the config's model and data. Prints the
// suggestion and the --set to use, writes lr_find.csv and lr_find.png into --out (default
// lr_find/<config name>/), and touches no run directory: the trained model is thrown away.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "command_helpers.h"
#include "tl/commands.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/device.h"
#include "tl/errors.h"
#include "tl/files.h"
#include "tl/logging.h"
#include "tl/lr_finder.h"
#include "tl/progress.h"
#include "tl/report.h"

namespace fs = std::filesystem;

namespace tl {
namespace {

void print_result(const LrFindResult& r, const LrFindOptions& o, const Config& config) {
  const LrSuggestion& s = r.suggestion;
  std::cout << "Learning-rate range test: " << r.points.size() << " of " << o.steps << " steps from "
            << significant(o.start_lr, 2) << " to " << significant(o.end_lr, 2) << " (stopped: " << r.stopped_because
            << (r.feature_cache ? "; frozen features computed once" : "") << ")\n";
  if (!std::isfinite(s.steepest) && !std::isfinite(s.minimum_tenth)) {
    std::cout << "No suggestion: too few steps were recorded (the first tenth and the last 5 are left out); lower "
                 "--start-lr or raise --steps\n";
    return;
  }
  const double suggested = std::isfinite(s.steepest) ? s.steepest : s.minimum_tenth;
  if (std::isfinite(s.steepest))
    std::cout << "Suggested learning rate: " << significant(s.steepest, 2)
              << " (steepest descent of the smoothed loss, step " << s.steepest_step << ")\n";
  else
    std::cout << "Suggested learning rate: " << significant(s.minimum_tenth, 2)
              << " (the smoothed loss never fell: minimum / 10)\n";
  std::cout << "  minimum / 10: " << significant(s.minimum_tenth, 2) << " (the rate at the smoothed loss's minimum, / 10)\n"
            << "  the config has optim.lr = " << significant(config.optim.lr, 2) << "\n"
            << "Use it with: --set optim.lr=" << significant(suggested, 2) << "\n";
}

}  // namespace

int run_lr_find(const CliOptions& o) {
  init_logging(/*to_stderr=*/true, o.quiet);
  Config config = load_config(o.config_path, o.overrides);
  if (!o.device.empty()) config.device = o.device;
  LrFindOptions options;
  options.start_lr = o.lr_start;
  options.end_lr = o.lr_end;
  options.steps = o.lr_steps;
  check_lr_find_options(options);
  const std::string out = o.out_dir.empty() ? "lr_find/" + config.name : o.out_dir;
  const torch::Device device = resolve_device(config.device);
  configure_threads(config.threads);
  warn_if_slow_blas();
  use_plain_jit_executor();

  const DatasetIndex data = scan_dataset(config.data, config.model.input_size);
  spdlog::info("Dataset {}: {} classes, {} training images", printable(data.root), data.classes.size(),
               data.train.size());
  check_config_against_data(config, data);
  TransferModel model = build_model(config, static_cast<int64_t>(data.classes.size()));
  model.to(device);
  create_output_folder(out);

  const LrFindResult result = find_learning_rate(config, data, model, device, options);
  std::vector<double> lrs, losses, smoothed;
  for (const auto& p : result.points) lrs.push_back(p.lr), losses.push_back(p.loss), smoothed.push_back(p.smoothed);
  const LrSuggestion& s = result.suggestion;
  const std::string csv = (fs::path(out) / "lr_find.csv").string(), png = (fs::path(out) / "lr_find.png").string();
  write_file_atomic(csv, lr_find_csv(result));
  write_file_atomic(png, render_lr_find_png(lrs, losses, smoothed, std::isfinite(s.steepest) ? s.steepest : s.minimum_tenth));
  print_result(result, options, config);
  std::cout << "Wrote " << csv << " and " << png << "\n";
  return kExitOk;
}

}  // namespace tl
