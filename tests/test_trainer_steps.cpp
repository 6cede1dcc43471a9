// The trainer driven in-process, phase by phase and run by run, on a tiny committed backbone.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <csignal>

#include <spdlog/sinks/ringbuffer_sink.h>

#include "tl/checkpoint.h"
#include "tl/errors.h"
#include "tl/evaluate.h"
#include "trainer_fixture.h"

namespace {

using tl::test::InProcessRun;
using tl::test::max_difference;
namespace fs = std::filesystem;

// The mean training loss of the whole training split under the model's current weights,
// computed here from scratch: cross-entropy with the given smoothing and per-class weights.
double reference_loss(InProcessRun& r, double smoothing, torch::Tensor weights = {}) {
  tl::LoaderOptions o;
  o.batch_size = 1000;
  o.image_size = r.config.model.input_size;
  o.normalize = r.config.data.normalize;
  tl::Loader loader(r.data->train, o);
  loader.start_epoch(0);
  auto batch = loader.next();
  r.model->train(false);
  torch::NoGradGuard no_grad;
  auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(smoothing);
  if (weights.defined()) options.weight(weights);
  return torch::nn::functional::cross_entropy(r.model->forward(batch->images), batch->labels, options).item<double>();
}

TEST(TrainerSteps, OneEpochPhaseByPhase) {
  InProcessRun r;
  tl::Trainer& t = r.trainer();
  const auto before = r.weights();
  t.begin_epoch(1);
  EXPECT_DOUBLE_EQ(t.learning_rate(), 1e-3);
  tl::EpochRecord record;
  ASSERT_TRUE(t.train_epoch(1, record));
  EXPECT_EQ(record.epoch, 1);
  EXPECT_TRUE(std::isfinite(record.loss));
  EXPECT_GE(record.acc, 0.0);
  EXPECT_GT(max_difference(before, r.weights()), 0.0);
  t.validate(record);
  EXPECT_TRUE(std::isfinite(record.val_loss));
  EXPECT_FALSE(t.end_epoch(record));
  for (const auto& f : {r.run->best(), r.run->last(), r.run->resume_state(), r.run->history_csv(), r.run->curves()})
    EXPECT_TRUE(fs::exists(f)) << f;
  EXPECT_EQ(t.state().epochs_done, 1);
  EXPECT_EQ(t.state().best_epoch, 1);
}

// Keras' rule: with patience 2 and val_acc flat from epoch 1, the run ends after epoch 3.
TEST(TrainerSteps, EarlyStoppingEndsAfterPatienceEpochs) {
  InProcessRun r;
  r.config.train.epochs = 10;
  r.config.optim.lr = 1e-12;
  r.config.train.monitor = tl::Metric::ValAcc;
  r.config.train.early_stopping.enabled = true;
  r.config.train.early_stopping.patience = 2;
  const tl::FitResult result = r.fit();
  EXPECT_TRUE(result.stopped_early);
  EXPECT_EQ(result.history.size(), 3u);
  EXPECT_EQ(result.final_checkpoint, r.run->best());
}

// restore_best follows the early-stopping monitor (Keras' restore_best_weights), not train.monitor.
TEST(TrainerSteps, RestoreBestFollowsTheEarlyStoppingMonitor) {
  InProcessRun r;
  r.config.train.epochs = 12;
  r.config.optim.lr = 3e-3;
  r.config.train.monitor = tl::Metric::ValLoss;
  r.config.train.early_stopping.enabled = true;
  r.config.train.early_stopping.monitor = tl::Metric::Loss;
  r.config.train.early_stopping.patience = 1;
  r.config.train.early_stopping.min_delta = 0.05;
  const tl::FitResult result = r.fit();
  ASSERT_TRUE(result.stopped_early);
  EXPECT_EQ(result.final_checkpoint, r.run->best_for("loss"));
  size_t best_loss = 0;
  for (size_t e = 1; e < result.history.size(); ++e)
    if (result.history[e].loss < result.history[best_loss].loss - 0.05) best_loss = e;
  EXPECT_EQ(tl::load_checkpoint(result.final_checkpoint, torch::kCPU).info.epoch, int(best_loss) + 1);
  // Without restore_best the run ends with its last epoch.
  InProcessRun plain;
  plain.config = r.config;
  plain.config.data.root = plain.dir.str("data");
  plain.config.train.out = plain.dir.str("run");
  plain.config.train.early_stopping.restore_best = false;
  const std::string plain_final = plain.fit().final_checkpoint;  // fit() makes plain.run
  EXPECT_EQ(plain_final, plain.run->last());
}

TEST(TrainerSteps, PlateauHalvesTheRateAfterPatience) {
  InProcessRun r;
  r.config.train.epochs = 4;
  r.config.optim.lr = 1e-12;  // val_loss stays flat
  r.config.optim.schedule.name = tl::ScheduleName::Plateau;
  r.config.optim.schedule.patience = 1;
  r.config.optim.schedule.factor = 0.5;
  const auto history = r.fit().history;
  ASSERT_EQ(history.size(), 4u);
  EXPECT_DOUBLE_EQ(history[0].lr, 1e-12);
  EXPECT_DOUBLE_EQ(history[2].lr, 1e-12);  // epochs 2 and 3 flat: reduced after epoch 3
  EXPECT_DOUBLE_EQ(history[3].lr, 0.5e-12);
}

TEST(TrainerSteps, UnfreezeScheduleThawsAtItsEpoch) {
  InProcessRun r;
  r.config.train.epochs = 2;
  r.config.model.freeze = "all";
  r.config.model.unfreeze_at = {{2, "block4_pool"}};
  tl::Trainer& t = r.trainer();
  const auto initial = r.weights();
  tl::EpochRecord record;
  t.begin_epoch(1);
  ASSERT_TRUE(t.train_epoch(1, record));
  auto after_one = r.weights();
  EXPECT_TRUE(torch::equal(after_one[20], initial[20]));  // block5_conv1 frozen in epoch 1
  t.validate(record);
  t.end_epoch(record);
  t.begin_epoch(2);
  EXPECT_EQ(r.model->freeze_spec(), "block4_pool");
  ASSERT_TRUE(t.train_epoch(2, record));
  const auto after_two = r.weights();
  EXPECT_FALSE(torch::equal(after_two[20], initial[20]));  // thawed
  EXPECT_TRUE(torch::equal(after_two[0], initial[0]));     // block1 still frozen
}

// batch 8 x accumulate 2 is batch 16, also for the last, partial group (27 = 16 + 11 images).
TEST(TrainerSteps, AccumulationWeighsBySamples) {
  auto run = [](int batch, int accumulate) {
    auto r = std::make_unique<InProcessRun>();
    r->config.train.epochs = 1;
    r->config.optim.name = tl::OptimizerName::Sgd;
    r->config.optim.lr = 0.1;
    r->config.train.batch_size = batch;
    r->config.train.accumulate = accumulate;
    r->fit();
    return r->weights();
  };
  const auto big = run(16, 1), accumulated = run(8, 2), plain = run(8, 1);
  EXPECT_LT(max_difference(big, accumulated), 2e-6);
  EXPECT_GT(max_difference(big, plain), 1e-4);  // the comparison can tell them apart
}

TEST(TrainerSteps, ClippingBoundsTheStep) {
  auto step = [](double clip) {
    InProcessRun r;
    r.config.train.epochs = 1;
    r.config.train.batch_size = 64;  // one step
    r.config.optim.name = tl::OptimizerName::Sgd;
    r.config.optim.lr = 1.0;
    r.config.train.clip_grad_norm = clip;
    tl::Trainer& t = r.trainer();
    const auto before = r.weights();
    t.begin_epoch(1);
    tl::EpochRecord record;
    t.train_epoch(1, record);
    double squared = 0;
    const auto after = r.weights();
    for (size_t i = 0; i < after.size(); ++i) squared += (after[i] - before[i]).pow(2).sum().item<double>();
    return std::sqrt(squared);
  };
  EXPECT_NEAR(step(1e-3), 1e-3, 1e-6);  // SGD without momentum moves by lr x the clipped norm
  EXPECT_GT(step(0), 1e-2);
}

// The loss trains with label smoothing and is reported with it, for training and validation alike.
TEST(TrainerSteps, LabelSmoothingIsInBothLosses) {
  InProcessRun r;
  r.config.optim.lr = 1e-12;  // the weights stay where the reference computes them
  r.config.train.label_smoothing = 0.2;
  tl::Trainer& t = r.trainer();
  t.begin_epoch(1);
  tl::EpochRecord record;
  ASSERT_TRUE(t.train_epoch(1, record));
  t.validate(record);
  EXPECT_NEAR(record.loss, reference_loss(r, 0.2), 1e-5);
  EXPECT_GT(std::abs(record.loss - reference_loss(r, 0.0)), 1e-3);
  tl::DatasetIndex val_as_train = *r.data;
  val_as_train.train = r.data->val;
  std::swap(*r.data, val_as_train);
  EXPECT_NEAR(record.val_loss, reference_loss(r, 0.2), 1e-5);
}

// "balanced": n / (K x count_c), as sklearn; the loss is the weighted mean.
TEST(TrainerSteps, BalancedClassWeights) {
  InProcessRun r(2, 0, 2);
  for (int i = 0; i < 12; ++i)  // 12 images of class 0, 4 of class 1
    cv::imwrite(r.dir.str("data/training/0_" + std::to_string(i) + ".png"), [&] {
      std::mt19937 rng(i);
      return tl::test::class_image(0, 32, rng);
    }());
  for (int i = 0; i < 4; ++i)
    cv::imwrite(r.dir.str("data/training/1_" + std::to_string(i) + ".png"), [&] {
      std::mt19937 rng(100 + i);
      return tl::test::class_image(1, 32, rng);
    }());
  r.config.optim.lr = 1e-12;
  r.config.train.class_weights_mode = tl::ClassWeights::Balanced;
  tl::Trainer& t = r.trainer();
  t.begin_epoch(1);
  tl::EpochRecord record;
  ASSERT_TRUE(t.train_epoch(1, record));
  const auto weights = torch::tensor({16.0 / (2 * 12), 16.0 / (2 * 4)}, torch::kFloat32);
  EXPECT_NEAR(record.loss, reference_loss(r, 0.0, weights), 1e-5);
  EXPECT_GT(std::abs(record.loss - reference_loss(r, 0.0)), 1e-4);
}

TEST(TrainerSteps, BackboneLrMultZeroKeepsTheBackbone) {
  InProcessRun r;
  r.config.train.epochs = 1;
  r.config.optim.backbone_lr_mult = 0;
  tl::Trainer& t = r.trainer();
  const auto before_backbone = r.model->trainable_backbone_parameters();
  std::vector<torch::Tensor> backbone, head;
  for (const auto& p : before_backbone) backbone.push_back(p.detach().clone());
  for (const auto& p : r.model->head_parameters()) head.push_back(p.detach().clone());
  t.fit(false);
  std::vector<torch::Tensor> backbone_after, head_after;
  for (const auto& p : r.model->trainable_backbone_parameters()) backbone_after.push_back(p.detach().clone());
  for (const auto& p : r.model->head_parameters()) head_after.push_back(p.detach().clone());
  EXPECT_EQ(max_difference(backbone, backbone_after), 0.0);
  EXPECT_GT(max_difference(head, head_after), 0.0);
}

// One step over the whole training split equals PyTorch's own optimizer on the same gradients.
void expect_step_matches_torch(tl::OptimizerName name) {
  InProcessRun r;
  r.config.train.epochs = 1;
  r.config.train.batch_size = 64;
  r.config.optim.name = name;
  r.config.optim.lr = 0.01;
  r.config.optim.momentum = 0.9;
  r.config.optim.weight_decay = 0.1;
  r.config.optim.backbone_lr_mult = 0.5;
  // Adam's first step is lr * g / (|g| + eps): with a tiny eps, gradients of 1e-9 that differ in the
  // last bits (summation order) would move a weight by up to lr. A larger eps keeps the step smooth.
  r.config.optim.eps = 1e-3;
  tl::Trainer& t = r.trainer();
  // The reference: a copy of the model, one forward/backward on all training images, torch's step.
  auto copy = tl::TransferModel::create(r.config.model, 3, r.config.train.seed);
  {
    auto src = r.model->all_parameters(), dst = copy.all_parameters();
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
  tl::LoaderOptions o;
  o.batch_size = 1000;
  o.image_size = 32;
  o.normalize = r.config.data.normalize;
  tl::Loader loader(r.data->train, o);
  loader.start_epoch(0);
  auto batch = loader.next();
  copy.train(true);
  auto reference = tl::make_optimizer(r.config.optim, copy.head_parameters(), copy.trainable_backbone_parameters());
  torch::nn::functional::cross_entropy(copy.forward(batch->images), batch->labels).backward();
  reference->step();
  t.fit(false);
  EXPECT_LT(max_difference(r.weights(),
                           [&] {
                             std::vector<torch::Tensor> w;
                             for (const auto& p : copy.all_parameters()) w.push_back(p.detach().clone());
                             return w;
                           }()),
            1e-6);
}

TEST(TrainerSteps, SgdStepMatchesTorch) { expect_step_matches_torch(tl::OptimizerName::Sgd); }
TEST(TrainerSteps, AdamWStepMatchesTorch) { expect_step_matches_torch(tl::OptimizerName::AdamW); }

TEST(TrainerSteps, MemoryCacheGivesTheSameRunAndSaysHowFullItIs) {
  InProcessRun plain, cached, small;
  cached.config.data.cache_memory = true;
  small.config.data.cache_memory = true;
  small.config.data.cache_bytes = 10 * 32 * 32 * 3;  // room for 10 of the 27 images
  auto messages = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  spdlog::default_logger()->sinks().push_back(messages);
  const auto a = plain.fit().history, b = cached.fit().history;
  small.fit();
  spdlog::default_logger()->sinks().pop_back();
  tl::test::expect_same_history(tl::history_to_json(a), tl::history_to_json(b), 1e-6);
  std::string said;
  for (const auto& m : messages->last_formatted()) said += m;
  EXPECT_NE(said.find("Memory cache: 27 images, 81 KiB of 2 GiB"), std::string::npos) << said;
  EXPECT_NE(said.find("Memory cache: 10 images, 30 KiB of 30 KiB (full: 17 images did not fit)"), std::string::npos)
      << said;
}

// A stop request at a chosen batch, then a resume: the same history as an uninterrupted run.
TEST(TrainerSteps, StopAtABatchThenResumeGivesTheSameRun) {
  InProcessRun whole, split;
  const auto expected = whole.fit().history;
  const tl::FitResult stopped =
      split.trainer([](int epoch, int64_t batch) { return epoch == 2 && batch == 2 ? SIGINT : 0; }).fit(false);
  EXPECT_EQ(stopped.interrupted_by, SIGINT);
  EXPECT_EQ(stopped.history.size(), 1u);
  const tl::FitResult resumed = split.fit(/*resume=*/true);
  tl::test::expect_same_history(tl::history_to_json(expected), tl::history_to_json(resumed.history), 1e-6);
}

TEST(TrainerSteps, NanLossNamesEpochAndBatchAndWhetherACheckpointExists) {
  InProcessRun r;
  r.config.train.class_weights_mode = tl::ClassWeights::List;
  r.config.train.class_weights = {0, 0, 0};  // 0/0: NaN from the first batch
  try {
    r.fit();
    FAIL() << "no TrainingError";
  } catch (const tl::TrainingError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("at epoch 1, batch 1"), std::string::npos) << m;
    EXPECT_NE(m.find("no checkpoint was written yet"), std::string::npos) << m;
  }
}

}  // namespace
