#include "tl/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "tl/errors.h"

namespace tl {
namespace {

const char* kExamples = R"(
Examples:
  tl-train --config configs/food11_half.json
  tl-train train --config configs/demo_fashion.json --set train.epochs=3 --set model.backbone=models/vgg16.pt
  tl-train train --config configs/food11_half.json --resume
  tl-train evaluate --checkpoint runs/food11_half/best.pt --split test
  tl-train predict --checkpoint runs/food11_half/best.pt photo.jpg more_photos/ --top-k 3
  tl-train summary --config configs/food11_half.json --json
  tl-train check-data --config configs/food11_half.json
  tl-train lr-find --config configs/demo_fashion.json
  tl-train predict --checkpoint runs/food11_half/best.pt photo.jpg --explain cams/
  tl-train report runs/food11_half
)";

const std::vector<std::string>& subcommands() {
  static const std::vector<std::string> names{"train", "evaluate", "predict", "summary", "check-data", "lr-find", "report"};
  return names;
}

bool is_subcommand(const std::string& word) {
  return std::find(subcommands().begin(), subcommands().end(), word) != subcommands().end();
}

// "unknown command 'evalute' (did you mean 'evaluate'?); ..." for a word that is no command.
std::string unknown_command(const std::string& word) {
  std::string list, near;
  for (const auto& name : subcommands()) {
    list += (list.empty() ? "" : ", ") + name;
    size_t common = 0;  // a shared prefix of 3+ letters, or one edit apart in length and letters
    while (common < word.size() && common < name.size() && word[common] == name[common]) ++common;
    if (common >= 3) near = name;
  }
  if (word == "version" || word == "help") near = "--" + word;
  return "unknown command '" + word + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)") +
         "; the commands are " + list + " (see 'tl-train --help')";
}

void add_config_options(CLI::App* app, CliOptions& o, bool required) {
  auto* config = app->add_option("-c,--config", o.config_path, "Experiment config (JSON), see configs/");
  if (required) config->required();
  config->check(CLI::ExistingFile);
  app->add_option("-s,--set", o.overrides,
                  "Override a config key: --set train.epochs=3 (value parsed as JSON, else a string)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

CLI::App* add_train_command(CLI::App& app, CliOptions& o) {
  auto* train = app.add_subcommand("train", "Fine-tune a backbone on a dataset (the default command)");
  add_config_options(train, o, true);
  auto* resume = train->add_flag("--resume", o.resume, "Continue the run in train.out from its last.resume.pt");
  auto* overwrite =
      train->add_flag("--overwrite", o.overwrite,
                      "Start afresh in a non-empty run directory (every output of the earlier run is removed)");
  resume->excludes(overwrite);
  train->add_option("--device", o.device, "Override the config's device: auto, cpu, cuda, cuda:N");
  train->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");
  train->add_option("--nproc", o.nproc, "Data parallel: start this many worker processes on this host")
      ->check(CLI::Range(1, 1024));
  train->add_option("--nnodes", o.nnodes, "Data parallel: hosts taking part (run the command on each)")
      ->check(CLI::Range(1, 1 << 16));
  train->add_option("--node-rank", o.node_rank, "Data parallel: this host's index, 0 to nnodes-1")
      ->check(CLI::Range(0, (1 << 16) - 1));
  train->add_option("--master-addr", o.master_addr, "Data parallel: the address of node 0 (default 127.0.0.1)");
  train->add_option("--master-port", o.master_port, "Data parallel: the port node 0 listens on (default 29500)")
      ->check(CLI::Range(1, 65535));
  train->add_option("--local-addr", o.local_addr,
                    "Data parallel: this host's address for the workers' connections (default: GLOO_SOCKET_IFNAME's "
                    "interface, else loopback when the master is on loopback, else the host name's address)");
  train->footer(
      "Writes best.pt, last.pt, history.csv/json, curves.png, config.json, split.json, train.log and report.html into "
      "train.out.\nData parallel: --nproc N on one host; on several, the same command on each with --nnodes, "
      "--node-rank, --master-addr and --master-port (or torchrun's RANK, WORLD_SIZE, MASTER_ADDR, ... environment).");
  return train;
}

CLI::App* add_evaluate_command(CLI::App& app, CliOptions& o) {
  auto* evaluate = app.add_subcommand(
      "evaluate", "Score a checkpoint on a dataset split: accuracy, confusion matrix, per-class metrics");
  evaluate->add_option("--checkpoint", o.checkpoint, "A tl-train checkpoint (best.pt or last.pt)")
      ->required()
      ->check(CLI::ExistingFile);
  evaluate->add_option("--data", o.data_root, "Dataset root (default: the one recorded in the checkpoint)");
  evaluate->add_option("--split", o.split, "Split to score: test (default), val or train")
      ->check(CLI::IsMember({"test", "val", "train"}));
  evaluate->add_option("--out", o.out_dir, "Output folder (default: RUN/eval_<split>/)");
  evaluate->add_option("--batch", o.batch, "Batch size (default: the training batch size)")
      ->check(CLI::Range(1, 1 << 20));
  evaluate->add_option("--device", o.device, "auto, cpu, cuda, cuda:N");
  evaluate->add_flag("--json", o.json, "Print the metrics as one JSON object on stdout, nothing else");
  evaluate->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");
  return evaluate;
}

CLI::App* add_predict_command(CLI::App& app, CliOptions& o) {
  auto* predict = app.add_subcommand("predict", "Classify images or folders of images with a checkpoint");
  predict->add_option("--checkpoint", o.checkpoint, "A tl-train checkpoint")->required()->check(CLI::ExistingFile);
  predict->add_option("inputs", o.inputs, "Images or directories (searched recursively)")->required();
  predict->add_option("-k,--top-k", o.top_k, "How many labels to show per image (default 5)")
      ->check(CLI::Range(1, 100000));
  predict->add_option("--batch", o.batch, "Images per forward pass (default 16)")->check(CLI::Range(1, 1 << 20));
  predict->add_option("--tta", o.tta, "Test-time augmentation: none (default) or flip (average with the mirror image)")
      ->check(CLI::IsMember({"none", "flip"}));
  predict->add_option("--device", o.device, "auto, cpu, cuda, cuda:N");
  auto* explain = predict->add_option("--explain", o.explain_dir,
                                      "Write a Grad-CAM overlay of the top-1 class per image into DIR")
                      ->type_name("DIR");
  predict->add_option("--explain-layer", o.explain_layer,
                      "The stage Grad-CAM looks at (default: the backbone's last convolutional stage)")
      ->type_name("NAME")
      ->needs(explain);
  predict->add_flag("--json", o.json, "One JSON object per image per line (with --explain: \"cam\": {png, peak})");
  predict->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");
  return predict;
}

CLI::App* add_summary_command(CLI::App& app, CliOptions& o) {
  auto* summary = app.add_subcommand("summary", "Print the model's layers, output shapes and parameter counts");
  add_config_options(summary, o, true);
  summary->add_flag("--json", o.json, "Print {trainable_params, frozen_params, total_params, layers} as JSON");
  summary->add_option("--out", o.out_dir, "Also write the resolved config (every key, after --set) to DIR/config.json")
      ->type_name("DIR");
  summary->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");
  return summary;
}

CLI::App* add_check_data_command(CLI::App& app, CliOptions& o) {
  auto* check = app.add_subcommand("check-data", "Everything the trainer would find in the data, without training");
  add_config_options(check, o, true);
  check->add_flag("--json", o.json, "Print one JSON object with all of it");
  check->footer("Exit 0 when training would start with this data, else the exit code training would end with.");
  return check;
}

CLI::App* add_lr_find_command(CLI::App& app, CliOptions& o) {
  auto* find = app.add_subcommand("lr-find", "Learning-rate range test: the loss as the rate grows, and a suggestion");
  add_config_options(find, o, true);
  find->add_option("--out", o.out_dir, "Where lr_find.csv and lr_find.png go (default: lr_find/<config name>/)")
      ->type_name("DIR");
  find->add_option("--start-lr", o.lr_start, "The first step's rate (default 1e-7)");
  find->add_option("--end-lr", o.lr_end, "The last step's rate (default 10)");
  find->add_option("--steps", o.lr_steps, "Optimizer steps from --start-lr to --end-lr (default 100)")
      ->check(CLI::Range(5, 1 << 20));
  find->add_option("--device", o.device, "Override the config's device: auto, cpu, cuda, cuda:N");
  find->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");
  find->footer("Touches no run directory; the model it trains is thrown away.");
  return find;
}

CLI::App* add_report_command(CLI::App& app, CliOptions& o) {
  auto* report = app.add_subcommand("report", "Write RUN/report.html: one self-contained page about a training run");
  report->add_option("run", o.run_dir, "A run directory (train.out)")->required()->check(CLI::ExistingDirectory);
  report->add_option("--device", o.device, "Where Grad-CAM of the worst mistakes runs: auto, cpu, cuda, cuda:N");
  report->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");
  return report;
}

// Runs CLI11; on help, version or a usage error, fills result.exit_code and returns false.
bool parse_with(CLI::App& app, const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                CliParse& result) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes a reversed vector
  try {
    app.parse(reversed);
    return true;
  } catch (const CLI::CallForHelp& e) {
    result.exit_code = app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    result.exit_code = app.exit(e, out, err);
  } catch (const CLI::CallForVersion&) {
    out << std::string("tl-train ") + TL_VERSION << "\n";
    result.exit_code = 0;
  } catch (const CLI::ParseError& e) {
    // One line, naming the problem and where to look.
    std::string sub;
    for (auto* s : app.get_subcommands()) sub = s->get_name();
    err << "tl-train: error: " << e.what() << " (see 'tl-train " << (sub.empty() ? "" : sub + " ") << "--help')\n";
    result.exit_code = kExitUsage;
  }
  return false;
}

}  // namespace

CliParse parse_command_line(const std::vector<std::string>& args_in, std::ostream& out, std::ostream& err) {
  CliParse result;
  CliOptions& o = result.options;
  std::vector<std::string> args = args_in;
  if (!args.empty() && !args[0].empty() && args[0][0] != '-' && !is_subcommand(args[0])) {
    err << "tl-train: error: " << unknown_command(args[0]) << "\n";
    result.exit_code = kExitUsage;
    return result;
  }
  // `tl-train --config X ...` means `tl-train train --config X ...`.
  if (!args.empty() && !is_subcommand(args[0]) && args[0] != "-h" && args[0] != "--help" && args[0] != "--version")
    args.insert(args.begin(), "train");

  CLI::App app{"tl-train: transfer learning for image classifiers on LibTorch (VGG, ResNet, MobileNet, EfficientNet, ConvNeXt)", "tl-train"};
  app.footer(kExamples);
  app.set_version_flag("--version", std::string("tl-train ") + TL_VERSION);
  app.require_subcommand(1);

  auto* train = add_train_command(app, o);
  auto* evaluate = add_evaluate_command(app, o);
  auto* predict = add_predict_command(app, o);
  auto* summary = add_summary_command(app, o);
  auto* check_data = add_check_data_command(app, o);
  auto* lr_find = add_lr_find_command(app, o);
  auto* report = add_report_command(app, o);
  if (!parse_with(app, args, out, err, result)) return result;

  if (train->parsed()) o.command = Command::Train;
  if (evaluate->parsed()) o.command = Command::Evaluate;
  if (predict->parsed()) o.command = Command::Predict;
  if (summary->parsed()) o.command = Command::Summary;
  if (check_data->parsed()) o.command = Command::CheckData;
  if (lr_find->parsed()) o.command = Command::LrFind;
  if (report->parsed()) o.command = Command::Report;
  result.run = true;
  return result;
}

}  // namespace tl
