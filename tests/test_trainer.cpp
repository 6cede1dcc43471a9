#include <gtest/gtest.h>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "tl/optimizer.h"
#include "tl/trainer.h"
#include "train_fixtures.h"

namespace {

using tl::Json;
using tl::test::expect_same_history;
using tl::test::run_tl;
using tl::test::RunResult;
using tl::test::TempDir;
using tl::test::TrainSetup;
namespace fs = std::filesystem;

// Keras EarlyStopping stops once `patience` epochs in a row did not improve (wait >= patience):
// with patience 2 and the best at epoch 5, training ends after epoch 7.
TEST(Trainer, EarlyStoppingFollowsKeras) {
  tl::EarlyStopping early(tl::Metric::ValLoss, /*maximize=*/false, /*min_delta=*/0.01, /*patience=*/2);
  const double values[] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.495, 0.6, 0.4};
  int stop_epoch = 0;
  for (int e = 1; e <= 8 && !stop_epoch; ++e)
    if (early.update(e, values[e - 1])) stop_epoch = e;
  EXPECT_EQ(stop_epoch, 7);
  EXPECT_EQ(early.best_epoch(), 5);
  EXPECT_DOUBLE_EQ(early.tracker().best(), 0.5);  // 0.495 is not better by more than min_delta
  tl::EarlyStopping acc(tl::Metric::ValAcc, true, 0, 0);
  EXPECT_FALSE(acc.update(1, 0.5));
  EXPECT_FALSE(acc.update(2, 0.6));
  EXPECT_TRUE(acc.update(3, 0.6));  // patience 0: the first epoch without improvement stops
}

// PyTorch ReduceLROnPlateau reduces once more than `patience` epochs did not improve, then counts afresh.
TEST(Trainer, PlateauFollowsPyTorch) {
  tl::PlateauReducer plateau(tl::Metric::ValLoss, false, 2);
  std::vector<int> reduced;
  const double values[] = {1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 0.5};
  for (int e = 1; e <= 8; ++e)
    if (plateau.update(values[e - 1])) reduced.push_back(e);
  EXPECT_EQ(reduced, (std::vector<int>{4, 7}));
}

TEST(Trainer, SchedulesGiveTheDocumentedFactors) {
  tl::ScheduleConfig step = tl::default_config().optim.schedule;
  step.name = tl::ScheduleName::Step, step.step_size = 2, step.gamma = 0.5;
  EXPECT_DOUBLE_EQ(tl::schedule_factor(step, 1, 6), 1.0);
  EXPECT_DOUBLE_EQ(tl::schedule_factor(step, 3, 6), 0.5);
  EXPECT_DOUBLE_EQ(tl::schedule_factor(step, 6, 6), 0.25);
  tl::ScheduleConfig cosine = tl::default_config().optim.schedule;
  cosine.name = tl::ScheduleName::Cosine, cosine.warmup_epochs = 1;
  EXPECT_DOUBLE_EQ(tl::schedule_factor(cosine, 1, 5), 0.5);  // warm-up: 1 / (1 + 1)
  EXPECT_DOUBLE_EQ(tl::schedule_factor(cosine, 2, 5), 1.0);  // cosine starts at its top
  EXPECT_NEAR(tl::schedule_factor(cosine, 4, 5), 0.5 * (1 + std::cos(M_PI * 2 / 4)), 1e-12);
}

// Warm-up comes before the step schedule, as PyTorch's SequentialLR([LinearLR, StepLR]): with
// step_size 3 the first three epochs after the warm-up run at the base rate.
TEST(Trainer, StepScheduleStartsAfterTheWarmup) {
  tl::ScheduleConfig s = tl::default_config().optim.schedule;
  s.name = tl::ScheduleName::Step, s.step_size = 3, s.gamma = 0.5, s.warmup_epochs = 2;
  std::vector<double> factors;
  for (int e = 1; e <= 8; ++e) factors.push_back(tl::schedule_factor(s, e, 8));
  const std::vector<double> expected{1.0 / 3, 2.0 / 3, 1, 1, 1, 0.5, 0.5, 0.5};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(factors[i], expected[i], 1e-12) << "epoch " << i + 1;
}

// min_lr bounds what the plateau schedule took away, per group relative to its base rate: a
// backbone group at rate 0 (backbone_lr_mult 0) stays at 0, and a warm-up is not lifted.
TEST(Trainer, MinLrBoundsEachGroupRelativeToItsBaseRate) {
  tl::OptimConfig o = tl::default_config().optim;
  o.lr = 1e-2;
  o.backbone_lr_mult = 0;
  o.schedule.name = tl::ScheduleName::Plateau;
  o.schedule.min_lr = 1e-3;
  o.schedule.warmup_epochs = 1;
  auto head = torch::zeros({2}, torch::requires_grad()), backbone = torch::zeros({2}, torch::requires_grad());
  auto optimizer = tl::make_optimizer(o, {head}, {backbone});
  const tl::LrSchedule schedule(o, 10);
  EXPECT_NEAR(schedule.apply(*optimizer, 1, 1.0), 5e-3, 1e-15);     // warm-up, below min_lr: kept
  EXPECT_NEAR(schedule.apply(*optimizer, 2, 1e-4), 1e-3, 1e-15);    // reduced to 1e-6, bounded at 1e-3
  EXPECT_EQ(optimizer->param_groups()[1].options().get_lr(), 0.0);  // the frozen-by-multiplier group
  o.backbone_lr_mult = 0.1;
  auto two = tl::make_optimizer(o, {head}, {backbone});
  tl::LrSchedule(o, 10).apply(*two, 2, 1e-4);
  EXPECT_NEAR(two->param_groups()[1].options().get_lr(), 1e-4, 1e-15);  // its bound: min_lr x 0.1
}

TEST(Trainer, ShortRunLearnsAndWritesItsOutputs) {
  TrainSetup s;
  RunResult r = run_tl({"train", "--config", s.config("run", R"(, "epochs": 6)")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* f :
       {"best.pt", "last.pt", "last.resume.pt", "history.csv", "history.json", "curves.png", "config.json",
        "split.json", "train.log", "eval_test/metrics.json", "eval_test/confusion_matrix.png"})
    EXPECT_TRUE(fs::exists(s.dir.path() / "run" / f)) << f;
  Json h = s.history("run");
  ASSERT_EQ(h.size(), 6u);
  EXPECT_GT(h.back()["val_acc"].get<double>(), 0.8);  // chance is 1/3
  Json test = Json::parse(tl::test::read_text(s.dir.path() / "run/eval_test/metrics.json"));
  EXPECT_GT(test["accuracy"].get<double>(), 0.8);
  EXPECT_NE(r.out.find("Epoch 6/6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("val_loss"), std::string::npos);
  // Running again into the same directory is refused without --resume/--overwrite, and changes nothing.
  auto before = fs::last_write_time(s.dir.path() / "run/best.pt");
  RunResult again = run_tl({"train", "--config", s.dir.str("run.json")});
  EXPECT_EQ(again.exit_code, tl::kExitUsage);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  EXPECT_EQ(fs::last_write_time(s.dir.path() / "run/best.pt"), before);
}

TEST(Trainer, BestCheckpointFollowsMonitorAndMode) {
  TrainSetup s;
  for (const std::string monitor : {"val_loss", "val_acc"}) {
    std::string name = "run_" + monitor;
    RunResult r = run_tl({"train", "--config", s.config(name, R"(, "epochs": 4, "monitor": ")" + monitor + "\"")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Json h = s.history(name);
    size_t best = 0;
    for (size_t e = 1; e < h.size(); ++e) {
      double v = h[e][monitor].get<double>(), b = h[best][monitor].get<double>();
      if (monitor == "val_loss" ? v < b : v > b) best = e;
    }
    auto ckpt = tl::load_checkpoint(s.dir.str(name + "/best.pt"), torch::kCPU);
    EXPECT_EQ(ckpt.info.epoch, static_cast<int>(best) + 1) << monitor;
    EXPECT_EQ(tl::load_checkpoint(s.dir.str(name + "/last.pt"), torch::kCPU).info.epoch, 4);
  }
}

TEST(Trainer, ResumedRunEndsWithTheSameHistory) {
  TrainSetup s;
  ASSERT_EQ(run_tl({"train", "--config", s.config("whole", R"(, "epochs": 4)")}).exit_code, 0);
  // The same run stopped after 2 epochs, then resumed to 4.
  std::string cfg = s.config("split", R"(, "epochs": 4)");
  RunResult first = run_tl({"train", "--config", cfg, "--set", "train.epochs=2"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  RunResult rest = run_tl({"train", "--config", cfg, "--resume"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.out.find("Resuming"), std::string::npos) << rest.out;
  expect_same_history(s.history("whole"), s.history("split"), 1e-6);
  RunResult finished = run_tl({"train", "--config", cfg, "--resume"});
  EXPECT_EQ(finished.exit_code, 0);
  EXPECT_NE(finished.out.find("Nothing left to do"), std::string::npos) << finished.out;
  // --resume with no state yet starts from the beginning.
  RunResult fresh = run_tl({"train", "--config", s.config("fresh", R"(, "epochs": 1)"), "--resume"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_NE(fresh.out.find("starting from the beginning"), std::string::npos) << fresh.out;
}

TEST(Trainer, FeatureCacheGivesTheSameLosses) {
  TrainSetup s;
  const std::string frozen = R"(, "freeze": "block4_pool")";
  RunResult cached = run_tl({"train", "--config", s.config("cached", "", frozen)});
  ASSERT_EQ(cached.exit_code, 0) << cached.err;
  EXPECT_NE(cached.out.find("Feature cache: on"), std::string::npos) << cached.out;
  RunResult plain = run_tl({"train", "--config", s.config("plain", R"(, "feature_cache": "off")", frozen)});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out.find("Feature cache: off"), std::string::npos);
  expect_same_history(s.history("cached"), s.history("plain"), 1e-5);
}

TEST(Trainer, EarlyStoppingStopsAndRestoresTheBest) {
  TrainSetup s;
  // A learning rate of ~0 keeps val_acc flat: with patience 1 the run stops after epoch 2, as Keras'
  // EarlyStopping does (one epoch without improvement).
  RunResult r = run_tl(
      {"train", "--config",
       s.config("early", R"(, "epochs": 10, "monitor": "val_acc", "early_stopping": {"enabled": true, "patience": 1})"),
       "--set", "optim.lr=1e-12"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(s.history("early").size(), 2u);
  EXPECT_NE(r.out.find("Early stopping"), std::string::npos) << r.out;
}

TEST(Trainer, NanLossStopsWithEpochAndBatchAndKeepsTheLastGoodCheckpoint) {
  TrainSetup s;
  std::string cfg = s.config("nan", R"(, "epochs": 1)");
  ASSERT_EQ(run_tl({"train", "--config", cfg}).exit_code, 0);
  const std::string last = tl::test::read_text(s.dir.path() / "nan/last.pt");
  // All-zero class weights make the weighted mean 0/0: a NaN loss from the first batch of epoch 2.
  RunResult r =
      run_tl({"train", "--config", cfg, "--resume", "--set", "train.epochs=2", "--set", "train.class_weights=[0,0,0]"});
  EXPECT_EQ(r.exit_code, tl::kExitTraining) << r.out << r.err;
  EXPECT_NE(r.err.find("at epoch 2, batch"), std::string::npos) << r.err;
  EXPECT_EQ(tl::test::read_text(s.dir.path() / "nan/last.pt"), last);
}

TEST(Trainer, UnfreezeScheduleThawsLayersAtTheGivenEpoch) {
  TrainSetup s;
  RunResult r =
      run_tl({"train", "--config", s.config("thaw", "", R"(, "freeze": "all", "unfreeze_at": {"2": "block4_pool"})")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Epoch 2: unfreezing to \"block4_pool\""), std::string::npos) << r.out;
  auto last = tl::load_checkpoint(s.dir.str("thaw/last.pt"), torch::kCPU);
  EXPECT_EQ(last.info.meta["freeze"], "block4_pool");
  // Block 5's convolutions moved, block 1's did not.
  auto original = tl::TransferModel::create(last.info.config.model, 3, 0);
  auto trained = last.model.all_parameters();
  auto initial = original.all_parameters();
  EXPECT_TRUE(torch::equal(trained[0], initial[0]));
  EXPECT_FALSE(torch::equal(trained[20], initial[20]));  // block5_conv1 weight (10 convs x 2 before it)
}

}  // namespace
