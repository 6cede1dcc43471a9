// Checkpoints outlive the program that wrote them: a format-1 checkpoint (tests/fixtures/v1) still
// loads, evaluates against its own split record and predicts what it predicted when it was written;
// a checkpoint from a newer tl-train is refused in one line.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <fstream>

#include "test_util.h"
#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "tl/json.h"

namespace {

namespace fs = std::filesystem;
using tl::Json;
using tl::test::RunResult;
using tl::test::TempDir;

const fs::path kFixture = fs::path(TL_SOURCE_DIR) / "tests" / "fixtures" / "v1";

// The fixture laid out as its run left it: data/ and run/{checkpoint.pt,split.json} in `dir`, whose
// relative data.root ("data") the commands below resolve from `dir`.
void lay_out_v1_run(const fs::path& dir) {
  fs::copy(kFixture / "data", dir / "data", fs::copy_options::recursive);
  fs::create_directories(dir / "run");
  fs::copy_file(kFixture / "checkpoint.pt", dir / "run" / "checkpoint.pt");
  fs::copy_file(kFixture / "split.json", dir / "run" / "split.json");
}

RunResult run_tl_in(const fs::path& dir, const std::vector<std::string>& args) {
  std::string command = "cd " + tl::test::shell_quote(dir.string()) + " && exec " + tl::test::shell_quote(TL_BINARY);
  for (const auto& a : args) command += " " + tl::test::shell_quote(a);
  return tl::test::run_shell(command);
}

std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(Json::parse(line));
  return lines;
}

TEST(CheckpointCompat, FormatOneLoadsWithItsSettings) {
  const tl::LoadedCheckpoint c = tl::load_checkpoint((kFixture / "checkpoint.pt").string(), torch::kCPU);
  EXPECT_EQ(c.info.format_version, 1);
  EXPECT_EQ(c.info.classes, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(c.info.config.model.input_size, 32);
  EXPECT_EQ(c.info.config.data.root, "data");
}

TEST(CheckpointCompat, FormatOnePredictsWhatItPredictedThen) {
  TempDir dir;
  lay_out_v1_run(dir.path());
  std::vector<std::string> args = {"predict", "--checkpoint", "run/checkpoint.pt", "--json"};
  for (const auto& line : json_lines(tl::test::read_text(kFixture / "predictions.jsonl")))
    args.push_back(line["path"].get<std::string>());
  RunResult r = run_tl_in(dir.path(), args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto then = json_lines(tl::test::read_text(kFixture / "predictions.jsonl"));
  const auto now = json_lines(r.out);
  ASSERT_EQ(now.size(), then.size()) << r.out;
  for (size_t i = 0; i < now.size(); ++i) {
    SCOPED_TRACE(then[i]["path"].get<std::string>());
    EXPECT_EQ(now[i]["path"], then[i]["path"]);
    ASSERT_EQ(now[i]["top"].size(), then[i]["top"].size());
    for (size_t k = 0; k < now[i]["top"].size(); ++k) {
      EXPECT_EQ(now[i]["top"][k]["label"], then[i]["top"][k]["label"]);
      EXPECT_NEAR(now[i]["top"][k]["prob"].get<double>(), then[i]["top"][k]["prob"].get<double>(), 1e-5);
    }
  }
}

// The v1 split record (root-joined paths, no settings) is the run's split: the test split is the six
// evaluation images, and the accuracy agrees with the recorded predictions.
TEST(CheckpointCompat, FormatOneEvaluatesAgainstItsSplitRecord) {
  TempDir dir;
  lay_out_v1_run(dir.path());
  tl::test::write_text(dir.path() / "data" / "evaluation" / "0_9.png",
                       tl::test::read_text(kFixture / "data/evaluation/0_0.png"));
  RunResult r = run_tl_in(dir.path(), {"evaluate", "--checkpoint", "run/checkpoint.pt", "--out", "eval"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json metrics = Json::parse(tl::test::read_text(dir.path() / "eval" / "metrics.json"));
  EXPECT_EQ(metrics["total"], 6);  // the new 0_9.png is not part of the run's split
  int correct = 0;
  for (const auto& p : json_lines(tl::test::read_text(kFixture / "predictions.jsonl"))) {
    const std::string name = fs::path(p["path"].get<std::string>()).filename().string();
    correct += p["top"][0]["label"].get<std::string>() == name.substr(0, name.find('_'));
  }
  EXPECT_EQ(metrics["correct"], correct);
  EXPECT_NE(r.err.find("1 image file(s) added since the split"), std::string::npos) << r.err;
}

TEST(CheckpointCompat, ANewerFormatIsRefusedInOneLine) {
  TempDir dir;
  torch::jit::ExtraFilesMap extra{{"tl_meta.json", ""}};
  torch::jit::Module module = torch::jit::load((kFixture / "checkpoint.pt").string(), torch::kCPU, extra);
  Json meta = Json::parse(extra["tl_meta.json"]);
  meta["format_version"] = tl::kCheckpointFormatVersion + 1;
  extra["tl_meta.json"] = meta.dump();
  const std::string newer = dir.str("newer.pt");
  module.save(newer, extra);
  RunResult r = tl::test::run_tl({"evaluate", "--checkpoint", newer});
  EXPECT_EQ(r.exit_code, tl::kExitModel);
  EXPECT_NE(r.err.find(newer + ": written by a newer tl-train"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
