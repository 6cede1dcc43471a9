// `tl-train predict` end to end: a model trained in the test classifies generated images of known
// classes; directories, batching, JSON lines, bad inputs, --top-k clamping and flip TTA.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <map>
#include <random>
#include <sstream>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/config.h"
#include "tl/errors.h"
#include "train_fixtures.h"

namespace {

using tl::Json;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TempDir;
namespace fs = std::filesystem;

// A three-class model (classes "0", "1", "2": red, green, blue images) trained into dir/run for
// `epochs` epochs (8 classify fresh images of these classes correctly; 1 give a checkpoint fast).
// One intra-op thread, recorded for predict too: two made such runs 10-30x slower on a busy machine.
std::string train_three_classes(const TempDir& dir, int epochs) {
  const std::string data = dir.str("data");
  tl::test::write_food11_dataset(data, 3, 12, 4, 0);
  const std::string config =
      tl::test::write_train_config(dir.path() / "run.json", data, tl::test::tiny_backbone(16, true), dir.str("run"),
                                   ", \"epochs\": " + std::to_string(epochs) + ", \"eval_test\": false");
  RunResult r = run_tl({"train", "--config", config, "--quiet", "--set", "threads=1"});
  if (r.exit_code != 0) throw std::runtime_error("training failed: " + r.out + r.err);
  return dir.str("run/best.pt");
}

// Writes an image of class `label` (a fresh draw of the training distribution) at `path`.
void write_class_image(const fs::path& path, int label, unsigned seed) {
  std::mt19937 rng(seed);
  fs::create_directories(path.parent_path());
  cv::imwrite(path.string(), tl::test::class_image(label, 32, rng));
}

std::vector<Json> json_lines(const std::string& out) {
  std::vector<Json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(Json::parse(line));
  return lines;
}

// label -> probability of one prediction line.
std::map<std::string, double> probabilities(const Json& line) {
  std::map<std::string, double> p;
  for (const Json& t : line["top"]) p[t["label"].get<std::string>()] = t["prob"].get<double>();
  return p;
}

class PredictCommand : public ::testing::Test {};

TEST_F(PredictCommand, ClassifiesImagesInNestedFoldersAsJsonLines) {
  TempDir dir;
  const std::string best = train_three_classes(dir, 8);
  // Seven images of known classes spread over nested folders, plus a file that is not an image.
  const fs::path in = dir.path() / "in";
  const std::vector<std::pair<std::string, int>> images{
      {"a.png", 0},          {"b.png", 1},          {"sub/c.png", 2},     {"sub/d.png", 0},
      {"sub/deep/e.png", 1}, {"sub/deep/f.png", 2}, {"sub/deep/g.jpg", 0}};
  unsigned seed = 100;
  for (const auto& [name, label] : images) write_class_image(in / name, label, seed++);
  tl::test::write_text(in / "sub/notes.txt", "not an image");

  RunResult r = run_tl({"predict", "--checkpoint", best, in.string(), "--json", "--batch", "3", "--top-k", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<Json> lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), images.size()) << r.out;
  std::map<std::string, int> expected;
  for (const auto& [name, label] : images) expected[(in / name).string()] = label;
  for (const Json& line : lines) {
    ASSERT_TRUE(line.contains("path") && line.contains("top")) << line;
    const std::string path = line["path"];
    ASSERT_TRUE(expected.count(path)) << path;
    const Json& top = line["top"];
    ASSERT_EQ(top.size(), 3u) << "--top-k 10 is clamped to the 3 classes";
    double sum = 0;
    for (size_t j = 0; j < top.size(); ++j) {
      EXPECT_EQ(top[j]["label"],
                std::to_string(top[j]["index"].get<int>()));  // food11 labels name the classes "0".."2"
      sum += top[j]["prob"].get<double>();
      if (j > 0) EXPECT_GE(top[j - 1]["prob"].get<double>(), top[j]["prob"].get<double>());
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    EXPECT_EQ(top[0]["index"], expected[path]) << path;
    expected.erase(path);  // every image exactly once
  }

  // Text mode, one image, the default top-k: the path, then label lines.
  RunResult text = run_tl({"predict", "--checkpoint", best, (in / "b.png").string(), "--top-k", "2"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind((in / "b.png").string() + "\n", 0), 0u) << text.out;
  std::istringstream lines_in(text.out);
  std::vector<std::string> text_lines;
  for (std::string line; std::getline(lines_in, line);) text_lines.push_back(line);
  ASSERT_EQ(text_lines.size(), 3u) << text.out;
  EXPECT_EQ(text_lines[1].substr(text_lines[1].size() - 3), "  1") << text.out;  // "  0.9876  1": class "1" first
}

TEST_F(PredictCommand, BadImageIsReportedAndTheRestArePredicted) {
  TempDir dir;
  const std::string best = train_three_classes(dir, 1);
  const fs::path in = dir.path() / "in";
  write_class_image(in / "good1.png", 0, 1);
  write_class_image(in / "good2.png", 2, 2);
  tl::test::write_text(in / "bad.jpg", "this is text, not a JPEG");
  fs::create_directories(dir.path() / "empty");
  RunResult r =
      run_tl({"predict", "--checkpoint", best, in.string(), dir.str("missing.png"), dir.str("empty"), "--json"});
  EXPECT_EQ(r.exit_code, tl::kExitPredict) << r.err;
  EXPECT_NE(r.err.find("bad.jpg"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir.str("empty") + "' holds no image files"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 input(s) could not be classified"), std::string::npos) << r.err;
  std::vector<Json> lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0]["path"], (in / "good1.png").string());
  EXPECT_EQ(lines[1]["path"], (in / "good2.png").string());
}

TEST_F(PredictCommand, FlipTtaAveragesWithTheMirrorImage) {
  TempDir dir;
  const std::string best = train_three_classes(dir, 1);
  std::mt19937 rng(7);
  cv::Mat image = tl::test::class_image(1, 32, rng), mirror;
  cv::flip(image, mirror, 1);
  const std::string plain = dir.str("x.png"), flipped = dir.str("x_mirror.png");
  cv::imwrite(plain, image);
  cv::imwrite(flipped, mirror);

  RunResult both = run_tl({"predict", "--checkpoint", best, plain, flipped, "--json"});
  RunResult tta = run_tl({"predict", "--checkpoint", best, plain, "--json", "--tta", "flip"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  ASSERT_EQ(tta.exit_code, 0) << tta.err;
  std::vector<Json> no_tta = json_lines(both.out), with_tta = json_lines(tta.out);
  ASSERT_EQ(no_tta.size(), 2u);
  ASSERT_EQ(with_tta.size(), 1u);
  // Same output shape and path; each probability is the mean of the image's and its mirror's.
  EXPECT_EQ(with_tta[0]["path"], plain);
  EXPECT_EQ(with_tta[0]["top"].size(), no_tta[0]["top"].size());
  auto p = probabilities(no_tta[0]), m = probabilities(no_tta[1]), t = probabilities(with_tta[0]);
  ASSERT_EQ(t.size(), 3u);
  double largest_change = 0;
  for (const auto& [label, prob] : t) {
    EXPECT_NEAR(prob, (p[label] + m[label]) / 2, 1e-6) << label;
    largest_change = std::max(largest_change, std::abs(prob - p[label]));
  }
  EXPECT_GT(largest_change, 0.0) << "the mirror image should change the probabilities a little";
}

}  // namespace
