#include <gtest/gtest.h>

#include <sstream>

#include "test_util.h"
#include "tl/cli.h"
#include "tl/errors.h"

namespace {

using tl::CliParse;
using tl::Command;

struct Parsed {
  CliParse result;
  std::string out, err;
};

Parsed parse(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Parsed p{tl::parse_command_line(args, out, err), "", ""};
  p.out = out.str();
  p.err = err.str();
  return p;
}

std::string existing_config() { return std::string(TL_SOURCE_DIR) + "/CMakeLists.txt"; }  // any existing file

TEST(Cli, ConfigAloneMeansTrain) {
  auto p = parse({"--config", existing_config()});
  ASSERT_TRUE(p.result.run) << p.err;
  EXPECT_EQ(p.result.options.command, Command::Train);
  EXPECT_EQ(p.result.options.config_path, existing_config());
}

TEST(Cli, TrainFlagsAndOverridesInOrder) {
  auto p = parse({"train", "-c", existing_config(), "--set", "train.epochs=3", "--set", "model.backbone=m.pt",
                  "--set", "train.epochs=4", "--resume", "--device", "cpu"});
  ASSERT_TRUE(p.result.run) << p.err;
  const auto& o = p.result.options;
  EXPECT_EQ(o.command, Command::Train);
  EXPECT_EQ(o.overrides, (std::vector<std::string>{"train.epochs=3", "model.backbone=m.pt", "train.epochs=4"}));
  EXPECT_TRUE(o.resume);
  EXPECT_FALSE(o.overwrite);
  EXPECT_EQ(o.device, "cpu");
}

TEST(Cli, EvaluateOptions) {
  auto p = parse({"evaluate", "--checkpoint", existing_config(), "--split", "val", "--json", "--out", "x", "--data", "d"});
  ASSERT_TRUE(p.result.run) << p.err;
  const auto& o = p.result.options;
  EXPECT_EQ(o.command, Command::Evaluate);
  EXPECT_EQ(o.split, "val");
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.out_dir, "x");
  EXPECT_EQ(o.data_root, "d");
}

TEST(Cli, PredictTakesSeveralInputs) {
  auto p = parse({"predict", "--checkpoint", existing_config(), "a.jpg", "dir", "--top-k", "3", "--tta", "flip", "--batch", "8"});
  ASSERT_TRUE(p.result.run) << p.err;
  const auto& o = p.result.options;
  EXPECT_EQ(o.command, Command::Predict);
  EXPECT_EQ(o.inputs, (std::vector<std::string>{"a.jpg", "dir"}));
  EXPECT_EQ(o.top_k, 3);
  EXPECT_EQ(o.tta, "flip");
  EXPECT_EQ(o.batch, 8);
}

TEST(Cli, SummaryTakesSetAndJson) {
  auto p = parse({"summary", "--config", existing_config(), "--set", "model.backbone=b.pt", "--json"});
  ASSERT_TRUE(p.result.run) << p.err;
  EXPECT_EQ(p.result.options.command, Command::Summary);
  EXPECT_TRUE(p.result.options.json);
  EXPECT_EQ(p.result.options.overrides, std::vector<std::string>{"model.backbone=b.pt"});
}

void expect_one_line_usage_error(const Parsed& p, const std::string& mentions) {
  EXPECT_FALSE(p.result.run);
  EXPECT_EQ(p.result.exit_code, tl::kExitUsage);
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
  EXPECT_NE(p.err.find(mentions), std::string::npos) << p.err;
}

TEST(Cli, BadFlagsGiveOneLineErrors) {
  expect_one_line_usage_error(parse({"train", "--config", existing_config(), "--bogus"}), "--bogus");
  expect_one_line_usage_error(parse({"train"}), "--config");
  expect_one_line_usage_error(parse({"train", "--config", "/no/such/file.json"}), "/no/such/file.json");
  expect_one_line_usage_error(parse({"evaluate", "--checkpoint", existing_config(), "--split", "holdout"}), "holdout");
  expect_one_line_usage_error(parse({"predict", "--checkpoint", existing_config()}), "inputs");
  expect_one_line_usage_error(parse({"predict", "--checkpoint", existing_config(), "a.jpg", "--top-k", "zero"}), "top-k");
  expect_one_line_usage_error(parse({}), "subcommand");
}

TEST(Cli, HelpAndVersionPrintAndStop) {
  auto help = parse({"--help"});
  EXPECT_FALSE(help.result.run);
  EXPECT_EQ(help.result.exit_code, 0);
  EXPECT_NE(help.out.find("evaluate"), std::string::npos);
  EXPECT_NE(help.out.find("Examples"), std::string::npos);
  auto sub_help = parse({"predict", "--help"});
  EXPECT_EQ(sub_help.result.exit_code, 0);
  EXPECT_NE(sub_help.out.find("--top-k"), std::string::npos);
  auto version = parse({"--version"});
  EXPECT_FALSE(version.result.run);
  EXPECT_EQ(version.result.exit_code, 0);
  EXPECT_NE(version.out.find("tl-train"), std::string::npos);
}

TEST(Cli, BinaryReportsUsageErrorsWithoutTrace) {
  auto r = tl::test::run_tl({"evaluate"});
  EXPECT_EQ(r.exit_code, tl::kExitUsage);
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.err.find("--checkpoint"), std::string::npos) << r.err;
}

}  // namespace
