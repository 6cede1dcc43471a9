// Backbone families beyond VGG (issue 15): ResNet, MobileNet, EfficientNet and ConvNeXt, recognised
// from the scripted module's structure, frozen by torchvision's stage names, with frozen BatchNorm
// in inference mode. The committed narrow fixtures keep every layer and block of the real networks.
#include <gtest/gtest.h>

#include <map>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/errors.h"
#include "tl/model.h"
#include "train_fixtures.h"

namespace {

using tl::BackboneFamily;
using tl::test::backbone_fixture;
using tl::test::run_tl;
using tl::test::RunResult;

struct FamilyCase {
  std::string fixture;
  BackboneFamily family;
  std::string partial_freeze;              // a stage in the middle
  std::vector<std::string> frozen_prefix;  // torchvision names that partial_freeze freezes
  std::vector<std::string> stage_names;    // some names summary must list
};

const std::vector<FamilyCase>& families() {
  static const std::vector<FamilyCase> cases{
      {"resnet18_w16", BackboneFamily::ResNet, "layer2", {"conv1.", "bn1.", "layer1.", "layer2."},
       {"conv1", "bn1", "maxpool", "layer1", "layer4"}},
      {"mobilenet_v3_large_w16", BackboneFamily::MobileNet, "features.6",
       {"features.0.", "features.1.", "features.2.", "features.3.", "features.4.", "features.5.", "features.6."},
       {"features.0", "features.1", "features.16"}},
      {"efficientnet_b0_w16", BackboneFamily::EfficientNet, "features.3",
       {"features.0.", "features.1.", "features.2.", "features.3."}, {"features.0", "features.4", "features.8"}},
      {"convnext_tiny_w16", BackboneFamily::ConvNeXt, "features.3",
       {"features.0.", "features.1.", "features.2.", "features.3."}, {"features.0", "features.5", "features.7"}},
  };
  return cases;
}

tl::ModelConfig config_for(const std::string& backbone, const std::string& freeze = "none") {
  tl::ModelConfig c;
  c.backbone = backbone;
  c.freeze = freeze;
  c.input_size = 32;
  c.head.pool = tl::HeadPool::Avg;
  c.head.hidden = {8};
  c.head.dropout = {0.0, 0.0};
  return c;
}

std::map<std::string, torch::Tensor> named_tensors(const torch::jit::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters(true)) out[p.name] = p.value;
  for (const auto& b : m.named_buffers(true)) out[b.name] = b.value;
  return out;
}

bool starts_with_any(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

TEST(Backbones, EachFamilyIsRecognisedAndListsTorchvisionStageNames) {
  for (const auto& f : families()) {
    SCOPED_TRACE(f.fixture);
    auto model = tl::TransferModel::create(config_for(backbone_fixture(f.fixture)), 3, 0);
    EXPECT_EQ(model.family(), f.family);
    const tl::Json summary = model.summary(32).to_json();
    std::vector<std::string> listed;
    for (const auto& layer : summary["layers"]) listed.push_back(layer["name"]);
    for (const auto& name : f.stage_names) {
      EXPECT_NE(std::find(listed.begin(), listed.end(), name), listed.end()) << name;
      EXPECT_NO_THROW(model.check_freeze(name, "model.freeze")) << name;
    }
    EXPECT_EQ(summary["layers"].back()["output_shape"], tl::Json::array({1, 3}));
    EXPECT_EQ(summary["frozen_params"], 0);
    try {
      model.check_freeze("layer9", "model.freeze");
      ADD_FAILURE() << "layer9 accepted";
    } catch (const tl::ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("\"layer9\" is not a layer of this backbone"), std::string::npos) << what;
      EXPECT_NE(what.find(f.stage_names.front()), std::string::npos) << what;  // the names it does have
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
    // The summary's counts follow a partial freeze: every stage through it frozen, the rest trainable.
    model.set_freeze(f.partial_freeze);
    const tl::Json partial = model.summary(32).to_json();
    bool past_freeze = false;
    int64_t trainable = 0, frozen = 0;
    for (const auto& layer : partial["layers"]) {
      if (layer["params"] > 0) {
        EXPECT_EQ(layer["trainable"].get<bool>(), past_freeze) << layer.dump();
        (layer["trainable"].get<bool>() ? trainable : frozen) += layer["params"].get<int64_t>();
      }
      if (layer["name"] == f.partial_freeze) past_freeze = true;
    }
    EXPECT_TRUE(past_freeze);
    EXPECT_GT(frozen, 0);
    EXPECT_EQ(partial["trainable_params"], trainable);
    EXPECT_EQ(partial["frozen_params"], frozen);
    model.set_freeze("none");
    // A count freezes that many leading stages with weights; one more than there are is refused.
    const int64_t stages = model.parameter_stage_count();
    EXPECT_NO_THROW(model.check_freeze(std::to_string(stages), "model.freeze"));
    EXPECT_THROW(model.check_freeze(std::to_string(stages + 1), "model.freeze"), tl::ConfigError);
  }
}

// The TorchScript forward a checkpoint runs is the same computation as the stages the trainer runs.
TEST(Backbones, SavedForwardEqualsTheTrainersStagesInEveryFamily) {
  for (const auto& f : families()) {
    SCOPED_TRACE(f.fixture);
    auto model = tl::TransferModel::create(config_for(backbone_fixture(f.fixture), f.partial_freeze), 4, 0);
    model.train(false);
    torch::manual_seed(1);
    const torch::Tensor x = torch::randn({3, 3, 32, 32});
    torch::NoGradGuard no_grad;
    const torch::Tensor stages = model.forward(x);
    const torch::Tensor scripted = model.module().forward({x}).toTensor();
    EXPECT_TRUE(torch::allclose(stages, scripted, 1e-5, 1e-6)) << (stages - scripted).abs().max().item<float>();
  }
}

TEST(Backbones, FrozenBatchNormKeepsItsStatisticsWhileTrainableBatchNormLearns) {
  auto model = tl::TransferModel::create(config_for(backbone_fixture("resnet18_w16"), "layer2"), 3, 0);
  torch::jit::Module backbone = model.module().attr("backbone").toModule();
  auto running_mean = [&](const std::string& bn) {
    return tl::submodule_at(backbone, bn).attr("running_mean").toTensor().clone();
  };
  const torch::Tensor stem = running_mean("bn1"), frozen = running_mean("layer2.0.bn1");
  const torch::Tensor trainable = running_mean("layer3.0.bn1");
  model.train(true);
  torch::manual_seed(2);
  model.forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
  EXPECT_TRUE(torch::equal(running_mean("bn1"), stem));
  EXPECT_TRUE(torch::equal(running_mean("layer2.0.bn1"), frozen));
  EXPECT_FALSE(torch::equal(running_mean("layer3.0.bn1"), trainable));
  // Thawing (model.unfreeze_at) puts the thawed BatchNorm layers back into training mode.
  model.set_freeze("conv1");  // everything after conv1 trains, bn1 included
  model.forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
  EXPECT_FALSE(torch::equal(running_mean("bn1"), stem)) << "the thawed bn1 did not update its statistics";
}

TEST(Backbones, TheVggHeadNeedsAVggBackbone) {
  auto c = config_for(backbone_fixture("resnet18_w16"));
  c.head.pool = tl::HeadPool::Vgg;
  c.head.hidden = {};
  c.head.dropout = {0.0};
  try {
    tl::TransferModel::create(c, 3, 0);
    ADD_FAILURE() << "head vgg accepted on a ResNet";
  } catch (const tl::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("this is a resnet backbone; use pool \"avg\""), std::string::npos) << e.what();
  }
}

// Training with frozen layers leaves every frozen tensor, weights and BatchNorm statistics alike,
// in best.pt exactly as exported; the trainable part moves.
TEST(BackboneTraining, FrozenTensorsInBestPtEqualTheExportedBackboneBitForBit) {
  for (const auto& f : families()) {
    SCOPED_TRACE(f.fixture);
    tl::test::TrainSetup s(3, 8, 2, 2);
    s.backbone = backbone_fixture(f.fixture);
    const auto exported = named_tensors(torch::jit::load(s.backbone));
    // "all" without the feature cache: the frozen layers run on every batch, in a model in training mode.
    for (const std::string freeze : {std::string("all"), f.partial_freeze}) {
      SCOPED_TRACE(freeze);
      const std::string name = freeze == "all" ? "all" : "partial";
      const std::string cache = freeze == "all" ? "off" : "auto";
      RunResult r = run_tl({"train", "--config",
                            s.config(name, R"(, "epochs": 2, "feature_cache": ")" + cache + "\"",
                                     R"(, "freeze": ")" + freeze + "\""),
                            "--quiet"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const std::string log = tl::test::read_text(std::filesystem::path(s.run_dir(name)) / "train.log");
      EXPECT_EQ(log.find("Feature cache: on") != std::string::npos, cache == "auto") << log;
      const auto trained = named_tensors(torch::jit::load(s.run_dir(name) + "/best.pt"));
      int frozen = 0, moved = 0;
      for (const auto& [tensor_name, value] : exported) {
        const auto it = trained.find("backbone." + tensor_name);
        ASSERT_NE(it, trained.end()) << "backbone." << tensor_name << " is missing from best.pt";
        const bool must_stay = freeze == "all" || starts_with_any(tensor_name, f.frozen_prefix) ||
                               tensor_name.rfind("fc.", 0) == 0 || tensor_name.rfind("classifier.", 0) == 0;
        if (must_stay) {
          ++frozen;
          EXPECT_TRUE(torch::equal(it->second, value)) << tensor_name << " changed";
        } else if (!torch::equal(it->second, value)) {
          ++moved;
        }
      }
      EXPECT_GT(frozen, 0);
      if (freeze != "all") EXPECT_GT(moved, 0) << "nothing after " << freeze << " trained";
    }
    // The checkpoint evaluates and predicts like any other.
    const std::string best = s.run_dir("partial") + "/best.pt";
    RunResult evaluated = run_tl({"evaluate", "--checkpoint", best, "--json", "--out", s.dir.str("eval")});
    ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
    EXPECT_EQ(tl::Json::parse(evaluated.out)["total"], 6) << evaluated.out;  // 3 classes x 2 test images
    RunResult predicted = run_tl({"predict", "--checkpoint", best, "--json", s.data + "/evaluation/1_0.png"});
    ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
    EXPECT_EQ(tl::Json::parse(predicted.out)["top"].size(), 3u) << predicted.out;
  }
}

// A checkpoint of any family is again a backbone (chained transfer), with its trained weights.
TEST(BackboneTraining, ACheckpointIsAgainABackboneOfItsFamily) {
  tl::test::TrainSetup s(3, 8, 2, 2);
  s.backbone = backbone_fixture("efficientnet_b0_w16");
  ASSERT_EQ(run_tl({"train", "--config", s.config("first", R"(, "epochs": 1)"), "--quiet"}).exit_code, 0);
  const std::string checkpoint = s.run_dir("first") + "/best.pt";
  auto model = tl::TransferModel::create(config_for(checkpoint, "features.2"), 5, 0);
  EXPECT_EQ(model.family(), BackboneFamily::EfficientNet);
  const auto before = named_tensors(torch::jit::load(checkpoint));
  for (const auto& [name, value] : named_tensors(model.module())) {
    if (name.rfind("backbone.", 0) != 0) continue;
    ASSERT_TRUE(before.count(name)) << name;
    EXPECT_TRUE(torch::equal(before.at(name), value)) << name;
  }
  s.backbone = checkpoint;
  RunResult second = run_tl({"train", "--config", s.config("second", R"(, "epochs": 1)"), "--quiet"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
}

}  // namespace
