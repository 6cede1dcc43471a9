// evaluate(): metrics from scripted logits checked against hand-computed values, eval_to_json, and
// the `tl-train evaluate` command end to end on a model trained in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/errors.h"
#include "tl/evaluate.h"
#include "train_fixtures.h"

namespace {

using tl::Json;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TempDir;
namespace fs = std::filesystem;

// A batch source that hands out fixed batches. The "images" are the logits themselves and the
// forward function is the identity, so each test chooses exactly what the model outputs.
struct ScriptedBatches {
  std::vector<tl::Batch> batches;
  size_t next = 0;
  void add(const std::vector<std::vector<float>>& logits, const std::vector<int64_t>& labels) {
    tl::Batch b;
    const int64_t n = static_cast<int64_t>(logits.size()), k = static_cast<int64_t>(logits[0].size());
    b.images = torch::empty({n, k});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j) b.images[i][j] = logits[i][j];
    b.labels = torch::tensor(labels, torch::kInt64);
    int64_t first = 0;
    for (const auto& earlier : batches) first += earlier.labels.size(0);
    for (int64_t i = 0; i < n; ++i) b.indices.push_back(first + i);
    batches.push_back(b);
  }
  tl::EvalResult run(const std::vector<std::string>& classes) {
    next = 0;
    return tl::evaluate(
        [this]() -> std::optional<tl::Batch> {
          if (next == batches.size()) return std::nullopt;
          return batches[next++];
        },
        [](const torch::Tensor& x) { return x; }, classes, torch::kCPU);
  }
};

// Mean cross-entropy of the rows, in double precision.
double mean_cross_entropy(const std::vector<std::vector<float>>& logits, const std::vector<int64_t>& labels) {
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    double z = 0;
    for (float v : logits[i]) z += std::exp(double(v));
    sum += std::log(z) - logits[i][static_cast<size_t>(labels[i])];
  }
  return sum / static_cast<double>(logits.size());
}

const std::vector<std::string> kSix{"ant", "bee", "cat", "dog", "eel", "fox"};

// Ten samples over six classes ("fox" is predicted once but never true, "dog" is never predicted).
//   sample  truth  predicted  rank of the truth
//   0..1    ant    ant        1
//   2       ant    bee        2
//   3       bee    bee        1
//   4       bee    cat        6   (top-5 miss)
//   5       cat    cat        1
//   6       dog    bee        6   (top-5 miss)
//   7..8    eel    eel        1
//   9       cat    fox        3
const std::vector<std::vector<float>> kLogits{
    {3, 1, 0, 0, 0, 0}, {2, 0, 1, 0, 0, 0},  {2, 3, 0, 0, 0, 0}, {0, 4, 0, 1, 0, 0}, {1, -2, 3, 1, 1, 1},
    {0, 0, 2, 0, 0, 0}, {1, 2, 0, -1, 0, 0}, {0, 0, 0, 0, 5, 0}, {1, 0, 0, 0, 2, 0}, {0, 0, 1, 0, 2, 3}};
const std::vector<int64_t> kLabels{0, 0, 0, 1, 1, 2, 3, 4, 4, 2};

// Confusion matrix (rows true, columns predicted):
//        ant bee cat dog eel fox | support
//   ant   2   1   0   0   0   0  |  3
//   bee   0   1   1   0   0   0  |  2
//   cat   0   0   1   0   0   1  |  2
//   dog   0   1   0   0   0   0  |  1
//   eel   0   0   0   0   2   0  |  2
//   fox   0   0   0   0   0   0  |  0
// predicted: 2 3 2 0 2 1
const std::vector<std::vector<int64_t>> kMatrix{{2, 1, 0, 0, 0, 0}, {0, 1, 1, 0, 0, 0}, {0, 0, 1, 0, 0, 1},
                                                {0, 1, 0, 0, 0, 0}, {0, 0, 0, 0, 2, 0}, {0, 0, 0, 0, 0, 0}};
// precision = diagonal / column sum, recall = diagonal / support, f1 = 2pr / (p + r); 0 when undefined.
const double kPrecision[] = {1.0, 1.0 / 3, 0.5, 0.0, 1.0, 0.0};
const double kRecall[] = {2.0 / 3, 0.5, 0.5, 0.0, 1.0, 0.0};
const double kF1[] = {0.8, 0.4, 0.5, 0.0, 1.0, 0.0};
const int64_t kSupport[] = {3, 2, 2, 1, 2, 0};

tl::EvalResult six_class_result() {
  ScriptedBatches source;
  source.add({kLogits.begin(), kLogits.begin() + 6}, {kLabels.begin(), kLabels.begin() + 6});
  source.add({kLogits.begin() + 6, kLogits.end()}, {kLabels.begin() + 6, kLabels.end()});
  return source.run(kSix);
}

TEST(Evaluate, MetricsMatchHandComputedValues) {
  tl::EvalResult r = six_class_result();
  EXPECT_EQ(r.total, 10);
  EXPECT_EQ(r.correct, 6);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.6);
  EXPECT_DOUBLE_EQ(r.top5, 0.8);  // samples 4 and 6 have their true class ranked last
  EXPECT_NEAR(r.loss, mean_cross_entropy(kLogits, kLabels), 1e-5);
  for (int64_t t = 0; t < 6; ++t)
    for (int64_t p = 0; p < 6; ++p)
      EXPECT_EQ(r.confusion.at(t, p), kMatrix[t][p]) << "true " << t << " predicted " << p;

  const auto rows = r.confusion.per_class();
  ASSERT_EQ(rows.size(), 6u);
  for (size_t c = 0; c < 6; ++c) {
    EXPECT_EQ(rows[c].name, kSix[c]);
    EXPECT_NEAR(rows[c].precision, kPrecision[c], 1e-12) << kSix[c];
    EXPECT_NEAR(rows[c].recall, kRecall[c], 1e-12) << kSix[c];
    EXPECT_NEAR(rows[c].f1, kF1[c], 1e-12) << kSix[c];
    EXPECT_EQ(rows[c].support, kSupport[c]) << kSix[c];
  }
  // Macro: plain means over the six classes. Weighted: by support (3, 2, 2, 1, 2, 0) over 10.
  const auto macro = r.confusion.macro_average();
  EXPECT_NEAR(macro.precision, (1 + 1.0 / 3 + 0.5 + 0 + 1 + 0) / 6, 1e-12);  // 17/36
  EXPECT_NEAR(macro.recall, (2.0 / 3 + 0.5 + 0.5 + 0 + 1 + 0) / 6, 1e-12);   // 4/9
  EXPECT_NEAR(macro.f1, (0.8 + 0.4 + 0.5 + 0 + 1 + 0) / 6, 1e-12);           // 0.45
  EXPECT_EQ(macro.support, 10);
  const auto weighted = r.confusion.weighted_average();
  EXPECT_NEAR(weighted.precision, (3 * 1.0 + 2 * (1.0 / 3) + 2 * 0.5 + 2 * 1.0) / 10, 1e-12);  // 2/3
  EXPECT_NEAR(weighted.recall, 0.6, 1e-12);                                       // weighted recall is the accuracy
  EXPECT_NEAR(weighted.f1, (3 * 0.8 + 2 * 0.4 + 2 * 0.5 + 2 * 1.0) / 10, 1e-12);  // 0.62
  EXPECT_EQ(weighted.support, 10);
}

TEST(Evaluate, PredictionsKeepSampleIndexAndTopProbability) {
  tl::EvalResult r = six_class_result();
  ASSERT_EQ(r.predictions.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    const auto& p = r.predictions[i];
    EXPECT_EQ(p.sample, static_cast<int64_t>(i));
    EXPECT_EQ(p.truth, kLabels[i]);
    double z = 0, best = -1e9;
    for (float v : kLogits[i]) z += std::exp(double(v)), best = std::max(best, double(v));
    EXPECT_NEAR(p.probability, std::exp(best) / z, 1e-6) << "sample " << i;
  }
  EXPECT_EQ(r.predictions[2].predicted, 1);
  EXPECT_EQ(r.predictions[9].predicted, 5);
}

TEST(Evaluate, JsonCarriesTheSameValues) {
  // Through text and back, as a consumer of metrics.json or `evaluate --json` sees it.
  Json j = Json::parse(tl::eval_to_json(six_class_result()).dump());
  for (const char* key : {"accuracy", "correct", "total", "top5", "loss", "classes", "confusion_matrix", "per_class",
                          "macro_avg", "weighted_avg"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.6);
  EXPECT_EQ(j["correct"], 6);
  EXPECT_EQ(j["total"], 10);
  EXPECT_DOUBLE_EQ(j["top5"].get<double>(), 0.8);
  EXPECT_NEAR(j["loss"].get<double>(), mean_cross_entropy(kLogits, kLabels), 1e-5);
  EXPECT_EQ(j["classes"].get<std::vector<std::string>>(), kSix);
  EXPECT_EQ(j["confusion_matrix"].get<std::vector<std::vector<int64_t>>>(), kMatrix);
  ASSERT_EQ(j["per_class"].size(), 6u);
  for (size_t c = 0; c < 6; ++c) {
    const Json& m = j["per_class"][c];
    EXPECT_EQ(m["name"], kSix[c]);
    EXPECT_NEAR(m["precision"].get<double>(), kPrecision[c], 1e-12);
    EXPECT_NEAR(m["recall"].get<double>(), kRecall[c], 1e-12);
    EXPECT_NEAR(m["f1"].get<double>(), kF1[c], 1e-12);
    EXPECT_EQ(m["support"], kSupport[c]);
  }
  EXPECT_NEAR(j["macro_avg"]["precision"].get<double>(), 17.0 / 36, 1e-12);
  EXPECT_NEAR(j["macro_avg"]["f1"].get<double>(), 0.45, 1e-12);
  EXPECT_NEAR(j["weighted_avg"]["precision"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(j["weighted_avg"]["f1"].get<double>(), 0.62, 1e-12);
}

TEST(Evaluate, TopFiveOnlyWithAtLeastFiveClasses) {
  ScriptedBatches four;
  four.add({{1, 0, 0, 0}, {0, 0, 0, 1}}, {0, 1});
  tl::EvalResult r4 = four.run({"a", "b", "c", "d"});
  EXPECT_EQ(r4.top5, -1);
  EXPECT_TRUE(tl::eval_to_json(r4)["top5"].is_null());
  EXPECT_DOUBLE_EQ(r4.accuracy, 0.5);

  ScriptedBatches five;  // with exactly five classes every truth is in the top 5
  five.add({{1, 0, 0, 0, 0}, {0, 0, 0, 1, 0}}, {0, 4});
  tl::EvalResult r5 = five.run({"a", "b", "c", "d", "e"});
  EXPECT_DOUBLE_EQ(r5.top5, 1.0);
  EXPECT_DOUBLE_EQ(tl::eval_to_json(r5)["top5"].get<double>(), 1.0);
}

TEST(Evaluate, NoBatchesGiveZerosNotNaN) {
  ScriptedBatches none;
  tl::EvalResult r = none.run(kSix);
  EXPECT_EQ(r.total, 0);
  EXPECT_EQ(r.accuracy, 0);
  EXPECT_EQ(r.loss, 0);
  EXPECT_EQ(r.top5, 0);
  EXPECT_NO_THROW(Json::parse(tl::eval_to_json(r).dump()));
}

// ---- `tl-train evaluate` end to end -------------------------------------------------------------

// Trains a tiny model (briefly: these tests check bookkeeping, not learning) on a generated
// five-class food11 tree with 4 test images per class into dir/run; returns the path of best.pt.
// One intra-op thread (recorded in the checkpoint, so evaluate and predict use it too): on a busy
// 2-core machine two OpenMP threads made such a run 10-30x slower (1.2 s against 11-34 s).
std::string train_five_classes(const TempDir& dir) {
  const std::string data = dir.str("data");
  tl::test::write_food11_dataset(data, 5, 10, 4, 4);
  const std::string config =
      tl::test::write_train_config(dir.path() / "run.json", data, tl::test::tiny_backbone(16, true), dir.str("run"),
                                   R"(, "epochs": 2, "eval_test": false)");
  RunResult r = run_tl({"train", "--config", config, "--quiet", "--set", "threads=1"});
  if (r.exit_code != 0) throw std::runtime_error("training failed: " + r.out + r.err);
  return dir.str("run/best.pt");
}

TEST(EvaluateCommand, JsonTextAndFilesAgree) {
  TempDir dir;
  const std::string best = train_five_classes(dir);

  RunResult js = run_tl({"evaluate", "--checkpoint", best, "--split", "test", "--json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  // stdout is exactly one JSON object (and its newline).
  ASSERT_FALSE(js.out.empty());
  EXPECT_EQ(js.out.find('\n'), js.out.size() - 1) << js.out;
  Json j = Json::parse(js.out);
  ASSERT_TRUE(j.is_object());
  for (const char* key : {"accuracy", "correct", "total", "top5", "loss", "classes", "confusion_matrix", "per_class"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["total"], 20);
  EXPECT_EQ(j["classes"].size(), 5u);
  EXPECT_TRUE(j["top5"].is_number());  // five classes
  EXPECT_DOUBLE_EQ(j["top5"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), j["correct"].get<double>() / 20);
  // The confusion matrix is what `predict` says about each test image (same model, same
  // preprocessing): rebuild it from the file names (<label>_<n>.png) and predict's top-1.
  RunResult pred = run_tl({"predict", "--checkpoint", best, dir.str("data/evaluation"), "--json", "--top-k", "1"});
  ASSERT_EQ(pred.exit_code, 0) << pred.err;
  std::vector<std::vector<int64_t>> matrix(5, std::vector<int64_t>(5, 0));
  std::istringstream lines(pred.out);
  for (std::string line; std::getline(lines, line);) {
    Json p = Json::parse(line);
    const int truth = fs::path(p["path"].get<std::string>()).filename().string()[0] - '0';
    ++matrix[static_cast<size_t>(truth)][p["top"][0]["index"].get<size_t>()];
  }
  EXPECT_EQ(j["confusion_matrix"].get<std::vector<std::vector<int64_t>>>(), matrix);
  int64_t diagonal = 0;
  for (size_t c = 0; c < 5; ++c) diagonal += matrix[c][c];
  EXPECT_EQ(j["correct"], diagonal);
  ASSERT_EQ(j["per_class"].size(), 5u);
  for (const Json& m : j["per_class"]) {
    for (const char* key : {"name", "precision", "recall", "f1", "support"}) EXPECT_TRUE(m.contains(key)) << key;
    EXPECT_EQ(m["support"], 4);
  }

  // Default output folder: the checkpoint's run directory, eval_<split>/; its metrics.json matches.
  const fs::path eval_dir = dir.path() / "run/eval_test";
  for (const char* f : {"confusion_matrix.csv", "confusion_matrix.png", "metrics.json", "misclassified.csv"})
    EXPECT_TRUE(fs::exists(eval_dir / f)) << f;
  Json saved = Json::parse(tl::test::read_text(eval_dir / "metrics.json"));
  EXPECT_EQ(saved["confusion_matrix"], j["confusion_matrix"]);
  EXPECT_EQ(saved["correct"], j["correct"]);
  const std::string misclassified = tl::test::read_text(eval_dir / "misclassified.csv");
  EXPECT_EQ(misclassified.rfind("path,true,predicted,probability\n", 0), 0u) << misclassified;
  EXPECT_EQ(std::count(misclassified.begin(), misclassified.end(), '\n'), 1 + 20 - j["correct"].get<int64_t>());
  const std::string csv = tl::test::read_text(eval_dir / "confusion_matrix.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 6);

  // Text mode, another split, an explicit --out.
  RunResult text = run_tl({"evaluate", "--checkpoint", best, "--split", "val", "--out", dir.str("val_eval")});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Number of correctly identified images: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" of 20\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Top-5 accuracy"), std::string::npos);
  const size_t title = text.out.find("Confusion matrix");
  ASSERT_NE(title, std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("Confusion matrix", title + 1), std::string::npos) << "one title: " << text.out;
  EXPECT_NE(text.out.find("macro avg"), std::string::npos);
  EXPECT_NE(text.out.find("weighted avg"), std::string::npos);
  for (const char* f : {"confusion_matrix.csv", "confusion_matrix.png", "metrics.json", "misclassified.csv"})
    EXPECT_TRUE(fs::exists(dir.path() / "val_eval" / f)) << f;
  EXPECT_FALSE(fs::exists(dir.path() / "run/eval_val"));
}

TEST(EvaluateCommand, DatasetWithOtherClassesIsAnErrorListingBoth) {
  TempDir dir;
  const std::string data = dir.str("data");
  tl::test::write_food11_dataset(data, 3, 6, 2, 2);
  const std::string config =
      tl::test::write_train_config(dir.path() / "run.json", data, tl::test::tiny_backbone(16, true), dir.str("run"),
                                   R"(, "epochs": 1, "eval_test": false)");
  ASSERT_EQ(run_tl({"train", "--config", config, "--quiet", "--set", "threads=1"}).exit_code, 0);
  const std::string best = dir.str("run/best.pt");

  // The three-class checkpoint has classes 0, 1, 2 and no top-5.
  RunResult ok = run_tl({"evaluate", "--checkpoint", best, "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(Json::parse(ok.out)["top5"].is_null());

  tl::test::write_food11_dataset(dir.path() / "other", 4, 2, 2, 2);
  RunResult r = run_tl({"evaluate", "--checkpoint", best, "--data", dir.str("other"), "--json"});
  EXPECT_EQ(r.exit_code, tl::kExitData) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("[0, 1, 2, 3]"), std::string::npos) << r.err;  // the dataset's classes
  EXPECT_NE(r.err.find("[0, 1, 2]"), std::string::npos) << r.err;     // the checkpoint's
}

}  // namespace
