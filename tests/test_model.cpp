#include <gtest/gtest.h>

#include <sstream>

#include <fstream>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/errors.h"
#include "tl/model.h"

namespace {

using tl::test::TempDir;

tl::ModelConfig model_config(const std::string& backbone, const std::string& freeze = "none", int64_t input = 32) {
  tl::ModelConfig c = tl::default_config().model;
  c.backbone = backbone;
  c.freeze = freeze;
  c.input_size = input;
  c.head.pool = tl::HeadPool::Avg;
  c.head.hidden = {100};
  c.head.dropout = {0.2, 0.0};
  return c;
}

TEST(Model, ExportedFeaturesOnlyBackboneHas13Convs) {
  const std::string path = tl::test::tiny_backbone(16, true);
  auto model = tl::TransferModel::create(model_config(path), 11, 0);
  EXPECT_EQ(model.parameter_stage_count(), 13);
  auto vgg19 = tl::TransferModel::create(model_config(tl::test::tiny_backbone(16, true, "vgg19")), 11, 0);
  EXPECT_EQ(vgg19.parameter_stage_count(), 16);
}

// The Keras original's numbers: VGG16 conv base + avg -> dropout 0.2 -> dense 100 -> dense 11 at 224 px.
TEST(Model, ParameterCountsMatchTheKerasReference) {
  const std::string path = tl::test::tiny_backbone(1, true);
  auto half = tl::TransferModel::create(model_config(path, "block3_conv3", 224), 11, 0);
  auto s = half.summary(224);
  EXPECT_EQ(s.trainable_params, 13031611);
  EXPECT_EQ(s.frozen_params, 1735488);
  half.set_freeze("7");
  EXPECT_EQ(half.summary(224).frozen_params, 1735488);
  half.set_freeze("none");
  s = half.summary(224);
  EXPECT_EQ(s.trainable_params, 14767099);
  EXPECT_EQ(s.frozen_params, 0);
  EXPECT_NE(s.to_text().find("14,767,099"), std::string::npos);
  EXPECT_EQ(s.to_json()["total_params"], 14767099);
}

// Every column of the text summary starts at the same place on every row, and cells are apart.
TEST(Model, SummaryColumnsLineUpWhateverTheirWidth) {
  auto model = tl::TransferModel::create(model_config(tl::test::tiny_backbone(16, true)), 3, 0);
  const std::string text = model.summary(32).to_text();
  std::istringstream in(text);
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);)
    if (line.find("features.") != std::string::npos || line.find("Layer (type)") != std::string::npos ||
        line.find("global_average_pooling2d") != std::string::npos)
      rows.push_back(line);
  ASSERT_GT(rows.size(), 5u);
  const size_t shape_column = rows[0].find("Output Shape");
  for (size_t r = 1; r < rows.size(); ++r) {
    const std::string& row = rows[r];
    EXPECT_EQ(row.find("(None", shape_column - 1), shape_column) << row;  // the shape starts there
    EXPECT_EQ(row.substr(shape_column - 2, 2), "  ") << row;              // and the cell before ends two spaces earlier
  }
}

TEST(Model, FreezeSpecsSelectTheRightLayers) {
  const std::string path = tl::test::tiny_backbone(16, false);
  auto c = model_config(path);
  c.head.pool = tl::HeadPool::Vgg;
  c.head.hidden = {};
  c.head.dropout = {0.0};
  auto model = tl::TransferModel::create(c, 5, 0);
  auto trainable_backbone = [&] { return model.trainable_backbone_parameters().size(); };
  model.set_freeze("all");
  EXPECT_EQ(trainable_backbone(), 0u);
  EXPECT_TRUE(model.prefix_is_whole_backbone());
  model.set_freeze("block5_pool");  // all convs, fc1 and fc2 trainable
  EXPECT_EQ(trainable_backbone(), 4u);
  model.set_freeze("fc1");
  EXPECT_EQ(trainable_backbone(), 2u);
  model.set_freeze("block1_pool");  // 2 convs frozen: 11 convs x (w, b) + fc1 + fc2
  EXPECT_EQ(trainable_backbone(), 26u);
  EXPECT_EQ(model.prefix_stages(), 5u);  // conv, relu, conv, relu, pool
  model.set_freeze("none");
  EXPECT_EQ(trainable_backbone(), 30u);
  EXPECT_THROW(model.set_freeze("14"), tl::ConfigError);
  EXPECT_THROW(model.set_freeze("block6_conv1"), tl::ConfigError);
  auto avg = tl::TransferModel::create(model_config(path), 5, 0);
  EXPECT_THROW(avg.set_freeze("fc1"), tl::ConfigError);
}

TEST(Model, FrozenWeightsStayPutWhileTrainableOnesMove) {
  const std::string path = tl::test::tiny_backbone(16, true);
  auto model = tl::TransferModel::create(model_config(path, "block3_conv3"), 3, 0);
  auto all = model.all_parameters();
  std::vector<torch::Tensor> before;
  for (auto& p : all) before.push_back(p.detach().clone());
  std::vector<torch::Tensor> trainable = model.trainable_backbone_parameters();
  for (auto& p : model.head_parameters()) trainable.push_back(p);
  torch::optim::Adam adam(trainable, torch::optim::AdamOptions(1e-2));
  model.train(true);
  torch::manual_seed(1);
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    auto loss = torch::cross_entropy_loss(model.forward(torch::randn({4, 3, 32, 32})), torch::tensor({0, 1, 2, 0}));
    loss.backward();
    adam.step();
  }
  int frozen_seen = 0, trainable_seen = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    bool same = torch::equal(all[i], before[i]);
    if (!all[i].requires_grad()) {
      EXPECT_TRUE(same) << "frozen parameter " << i << " changed";
      EXPECT_FALSE(all[i].grad().defined()) << "frozen parameter " << i << " got a gradient";
      ++frozen_seen;
    } else {
      EXPECT_FALSE(same) << "trainable parameter " << i << " did not change";
      ++trainable_seen;
    }
  }
  EXPECT_EQ(frozen_seen, 14);  // 7 convs x (weight, bias)
  EXPECT_EQ(trainable_seen, 12 + 4);
}

TEST(Model, ScriptedForwardMatchesStagedForward) {
  const std::string path = tl::test::tiny_backbone(16, false);
  for (const std::string pool : {"avg", "max", "flatten", "vgg"}) {
    auto c = model_config(path, "4", 64);
    c.head.pool = *tl::parse_choice<tl::HeadPool>(pool);
    if (pool == "vgg") c.head.hidden = {}, c.head.dropout = {0.3};
    auto model = tl::TransferModel::create(c, 4, 0);
    model.train(false);
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, 3, 64, 64});
    auto staged = model.forward(x);
    auto scripted = model.module().forward({x}).toTensor();
    EXPECT_EQ(staged.sizes(), (std::vector<int64_t>{2, 4})) << pool;
    EXPECT_TRUE(torch::allclose(staged, scripted, 1e-5, 1e-6)) << pool;
  }
}

TEST(Model, CheckpointReloadsAsBackboneWithTheSameFeatures) {
  const std::string path = tl::test::tiny_backbone(16, true);
  TempDir dir;
  auto model = tl::TransferModel::create(model_config(path, "none"), 3, 0);
  // Change the backbone so the check cannot pass by reloading the original file.
  for (auto& p : model.trainable_backbone_parameters()) p.data().add_(0.01);
  tl::Json meta{{"classes", {"a", "b", "c"}}, {"head", model.head_spec()}, {"freeze", "none"}};
  model.save(dir.str("ckpt.pt"), meta);
  auto chained = tl::TransferModel::create(model_config(dir.str("ckpt.pt"), "all"), 7, 1);
  auto original = tl::TransferModel::create(model_config(path, "all"), 7, 1);
  auto x = torch::randn({2, 3, 32, 32});
  model.train(false);
  // Nothing is frozen in `model`, so its prefix is empty: run its features and pooling explicitly.
  auto expected = model.module().attr("features").toModule().forward({x}).toTensor().mean({2, 3});
  auto got = chained.forward_prefix(x);
  EXPECT_TRUE(torch::allclose(got, expected, 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(original.forward_prefix(x), expected, 1e-6, 1e-6));
}

std::string model_error(const std::string& backbone, const std::string& pool = "avg") {
  auto c = model_config(backbone);
  c.head.pool = *tl::parse_choice<tl::HeadPool>(pool);
  if (pool == "vgg") c.head.hidden = {}, c.head.dropout = {0.0};
  try {
    tl::TransferModel::create(c, 3, 0);
  } catch (const tl::ModelError& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return e.what();
  }
  return "";
}

TEST(Model, UnusableBackbonesGiveOneLineErrors) {
  const std::string features_only = tl::test::tiny_backbone(16, true);
  TempDir dir;
  EXPECT_NE(model_error(dir.str("missing.pt")).find("no such file"), std::string::npos);
  tl::test::write_text(dir.path() / "random.pt", std::string(5000, '\x7f'));
  EXPECT_NE(model_error(dir.str("random.pt")).find("not a TorchScript archive"), std::string::npos);
  std::string whole = tl::test::read_text(features_only);
  tl::test::write_text(dir.path() / "truncated.pt", whole.substr(0, whole.size() / 2));
  EXPECT_NE(model_error(dir.str("truncated.pt")).find("truncated"), std::string::npos);
  EXPECT_NE(model_error(features_only, "vgg").find("--features-only"), std::string::npos);

  std::string python = tl::test::python_with_torch();
  auto r = tl::test::run_shell(python +
                               " -c \"import torch, torchvision; "
                               "torch.save(torchvision.models.vgg11().features.state_dict(), '" +
                               dir.str("sd.pt") +
                               "'); "
                               "torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), '" +
                               dir.str("linear.pt") + "')\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(model_error(dir.str("sd.pt")).find("state_dict"), std::string::npos);
  EXPECT_NE(model_error(dir.str("linear.pt")).find("not a backbone tl-train knows (found Linear"), std::string::npos);
}

}  // namespace
