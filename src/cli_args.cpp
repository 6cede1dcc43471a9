#include "tl/cli.h"

#include <CLI/CLI.hpp>

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
)";

bool is_subcommand(const std::string& word) {
  return word == "train" || word == "evaluate" || word == "predict" || word == "summary";
}

void add_config_options(CLI::App* app, CliOptions& o, bool required) {
  auto* config = app->add_option("-c,--config", o.config_path, "Experiment config (JSON), see configs/");
  if (required) config->required();
  config->check(CLI::ExistingFile);
  app->add_option("-s,--set", o.overrides, "Override a config key: --set train.epochs=3 (value parsed as JSON, else a string)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
}

}  // namespace

CliParse parse_command_line(const std::vector<std::string>& args_in, std::ostream& out, std::ostream& err) {
  CliParse result;
  CliOptions& o = result.options;
  std::vector<std::string> args = args_in;
  // `tl-train --config X ...` means `tl-train train --config X ...`.
  if (!args.empty() && !is_subcommand(args[0]) && args[0] != "-h" && args[0] != "--help" && args[0] != "--version")
    args.insert(args.begin(), "train");

  CLI::App app{"tl-train: transfer learning for image classifiers on LibTorch (VGG16 backbones)", "tl-train"};
  app.footer(kExamples);
  app.set_version_flag("--version", std::string("tl-train ") + TL_VERSION);
  app.require_subcommand(1);

  auto* train = app.add_subcommand("train", "Fine-tune a backbone on a dataset (the default command)");
  add_config_options(train, o, true);
  train->add_flag("--resume", o.resume, "Continue the run in train.out from its last.pt");
  train->add_flag("--overwrite", o.overwrite, "Start afresh in a non-empty run directory (its files are replaced)");
  train->add_option("--device", o.device, "Override the config's device: auto, cpu, cuda, cuda:N");
  train->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");
  train->footer("Writes best.pt, last.pt, history.csv/json, curves.png, config.json, split.json, train.log into train.out.");

  auto* evaluate = app.add_subcommand("evaluate", "Score a checkpoint on a dataset split: accuracy, confusion matrix, per-class metrics");
  evaluate->add_option("--checkpoint", o.checkpoint, "A tl-train checkpoint (best.pt or last.pt)")->required()->check(CLI::ExistingFile);
  evaluate->add_option("--data", o.data_root, "Dataset root (default: the one recorded in the checkpoint)");
  evaluate->add_option("--split", o.split, "Split to score")->check(CLI::IsMember({"test", "val", "train"}));
  evaluate->add_option("--out", o.out_dir, "Output folder (default: RUN/eval_<split>/)");
  evaluate->add_option("--batch", o.batch, "Batch size (default: the training batch size)")->check(CLI::Range(1, 1 << 20));
  evaluate->add_option("--device", o.device, "auto, cpu, cuda, cuda:N");
  evaluate->add_flag("--json", o.json, "Print the metrics as one JSON object on stdout, nothing else");
  evaluate->add_flag("-q,--quiet", o.quiet, "Print warnings and errors only");

  auto* predict = app.add_subcommand("predict", "Classify images or folders of images with a checkpoint");
  predict->add_option("--checkpoint", o.checkpoint, "A tl-train checkpoint")->required()->check(CLI::ExistingFile);
  predict->add_option("inputs", o.inputs, "Images or directories (searched recursively)")->required();
  predict->add_option("-k,--top-k", o.top_k, "How many labels to show per image")->check(CLI::Range(1, 100000));
  predict->add_option("--batch", o.batch, "Images per forward pass (default 16)")->check(CLI::Range(1, 1 << 20));
  predict->add_option("--tta", o.tta, "Test-time augmentation: none or flip (average with the mirror image)")
      ->check(CLI::IsMember({"none", "flip"}));
  predict->add_option("--device", o.device, "auto, cpu, cuda, cuda:N");
  predict->add_flag("--json", o.json, "One JSON object per image per line");

  auto* summary = app.add_subcommand("summary", "Print the model's layers, output shapes and parameter counts");
  add_config_options(summary, o, true);
  summary->add_flag("--json", o.json, "Print {trainable_params, frozen_params, total_params, layers} as JSON");

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes a reversed vector
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    result.exit_code = app.exit(e, out, err);
    return result;
  } catch (const CLI::CallForAllHelp& e) {
    result.exit_code = app.exit(e, out, err);
    return result;
  } catch (const CLI::CallForVersion& e) {
    out << std::string("tl-train ") + TL_VERSION << "\n";
    result.exit_code = 0;
    return result;
  } catch (const CLI::ParseError& e) {
    // One line, naming the problem and where to look.
    std::string message = e.what();
    std::string sub;
    for (auto* s : app.get_subcommands()) sub = s->get_name();
    err << "tl-train: error: " << message << " (see 'tl-train " << (sub.empty() ? "" : sub + " ") << "--help')\n";
    result.exit_code = kExitUsage;
    return result;
  }

  if (train->parsed()) o.command = Command::Train;
  if (evaluate->parsed()) o.command = Command::Evaluate;
  if (predict->parsed()) o.command = Command::Predict;
  if (summary->parsed()) o.command = Command::Summary;
  result.run = true;
  return result;
}

}  // namespace tl
