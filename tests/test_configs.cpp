// The shipped experiment configs (issue 7): each parses and validates, and `tl-train summary`
// runs on it with a random-weights VGG16, with trainable/frozen counts that follow its freeze.
#include <gtest/gtest.h>

#include <algorithm>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/config.h"
#include "tl/errors.h"

namespace {

using tl::Json;
using tl::test::run_tl;
using tl::test::RunResult;
namespace fs = std::filesystem;

std::vector<fs::path> shipped_configs() {
  std::vector<fs::path> configs;
  for (const auto& entry : fs::directory_iterator(fs::path(TL_SOURCE_DIR) / "configs"))
    if (entry.path().extension() == ".json") configs.push_back(entry.path());
  std::sort(configs.begin(), configs.end());
  return configs;
}

// Position in the summary's layer list of the last layer that `freeze` freezes; -1 for none.
// "all" freezes everything before the new head; N the first N backbone layers with weights; a
// name (torchvision's or Keras') that layer.
int last_frozen_layer(const Json& layers, const std::string& freeze) {
  if (freeze == "none") return -1;
  int last = -1, weighted = 0;
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
    const Json& l = layers[static_cast<size_t>(i)];
    const bool backbone_layer = l["type"] != "DenseHead" && l["type"] != "Linear" && l["params"] > 0;
    if (freeze == "all" && l["type"] != "DenseHead") last = i;
    if (backbone_layer && std::to_string(++weighted) == freeze) last = i;
    if (l["keras_name"] == freeze || l["name"] == freeze) last = i;
  }
  return last;
}

// The committed narrow backbone of the family a shipped config names (models/<arch>.pt).
std::string fixture_for(const tl::Config& config) {
  const std::string arch = fs::path(config.model.backbone).stem().string();
  if (arch == "resnet50") return tl::test::backbone_fixture("resnet18_w16");  // same stage names
  if (arch == "efficientnet_b0") return tl::test::backbone_fixture("efficientnet_b0_w16");
  // The "vgg" head keeps the pretrained fc1/fc2, so it needs an export with the classifier.
  return tl::test::tiny_backbone(16, config.model.head.pool != tl::HeadPool::Vgg);
}

// Summary JSON of `config` with `backbone`; fails the test unless stdout is exactly that JSON.
// One intra-op thread: two OpenMP threads crawl when the 2-core test machine is busy.
Json summary_json(const fs::path& config, const std::string& backbone) {
  RunResult r = run_tl(
      {"summary", "--config", config.string(), "--set", "model.backbone=" + backbone, "--set", "threads=1", "--json"});
  EXPECT_EQ(r.exit_code, 0) << config << ": " << r.err;
  try {
    return Json::parse(r.out);
  } catch (const Json::exception& e) {
    ADD_FAILURE() << config << ": stdout is not one JSON object (" << e.what() << "): " << r.out;
    return Json::object();
  }
}

TEST(Configs, EveryShippedConfigParsesAndValidates) {
  const auto configs = shipped_configs();
  EXPECT_GE(configs.size(), 9u);  // food11_full/half/resnet50, caltech101, fruits360, flowers(_efficientnet_b0),
                                  // dogs_vs_cats, demo_fashion
  for (const auto& path : configs) {
    SCOPED_TRACE(path.string());
    tl::Config c;
    ASSERT_NO_THROW(c = tl::load_config(path.string(), {}));
    EXPECT_EQ(c.name, path.stem().string());
    EXPECT_GT(c.model.num_classes, 0) << "summary needs model.num_classes without a dataset";
    EXPECT_FALSE(c.data.root.empty());
  }
}

TEST(Configs, SummaryRunsOnEveryConfigWithCountsThatFollowItsFreeze) {
  for (const auto& path : shipped_configs()) {
    SCOPED_TRACE(path.string());
    const tl::Config config = tl::load_config(path.string(), {});
    // The narrow exports keep this fast: the width changes the counts, not which layers train.
    Json s = summary_json(path, fixture_for(config));
    ASSERT_TRUE(s.contains("layers")) << s;
    const Json& layers = s["layers"];
    int64_t trainable = 0, frozen = 0;
    const int last_frozen = last_frozen_layer(layers, config.model.freeze);
    if (config.model.freeze != "none")
      EXPECT_GE(last_frozen, 0) << "freeze \"" << config.model.freeze << "\" names no layer";
    for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
      const Json& l = layers[static_cast<size_t>(i)];
      const int64_t params = l["params"];
      if (params == 0) continue;
      EXPECT_EQ(l["trainable"].get<bool>(), i > last_frozen) << l.dump();
      (l["trainable"].get<bool>() ? trainable : frozen) += params;
    }
    EXPECT_EQ(s["trainable_params"], trainable);
    EXPECT_EQ(s["frozen_params"], frozen);
    EXPECT_EQ(s["total_params"], trainable + frozen);
    if (config.model.freeze == "none") EXPECT_EQ(frozen, 0);
    // The output layer has one unit per class: its bias is the last num_classes parameters.
    const Json& head = layers.back();
    EXPECT_EQ(head["type"], "DenseHead");
    EXPECT_TRUE(head["trainable"].get<bool>());
    EXPECT_EQ(head["output_shape"], Json::array({1, config.model.num_classes}));
  }
}

// The Keras original's numbers (issue 4) through the CLI: full-width VGG16 conv base at 224 px,
// avg -> dropout 0.2 -> dense 100 -> dense 11, frozen through block3_conv3.
TEST(Configs, Food11HalfSummaryMatchesTheKerasReference) {
  const std::string full_width = tl::test::tiny_backbone(1, true);
  Json s = summary_json(fs::path(TL_SOURCE_DIR) / "configs/food11_half.json", full_width);
  EXPECT_EQ(s["trainable_params"], 13031611);
  EXPECT_EQ(s["frozen_params"], 1735488);
  EXPECT_EQ(s["total_params"], 14767099);
  Json full = summary_json(fs::path(TL_SOURCE_DIR) / "configs/food11_full.json", full_width);
  EXPECT_EQ(full["trainable_params"], 14767099);
  EXPECT_EQ(full["frozen_params"], 0);
}

// The two configs on newer backbones, at full width: torchvision's counts with the new head.
TEST(Configs, ResNet50AndEfficientNetB0SummariesHaveTorchvisionsCounts) {
  // ResNet-50 without its fc (23,508,032) + Linear(2048, 11); layer4 and the head train.
  Json resnet = summary_json(fs::path(TL_SOURCE_DIR) / "configs/food11_resnet50.json",
                             tl::test::full_width_backbone("resnet50"));
  EXPECT_EQ(resnet["total_params"], 23530571);
  EXPECT_EQ(resnet["trainable_params"], 14987275);
  EXPECT_EQ(resnet["frozen_params"], 8543296);
  // EfficientNet-B0 without its classifier (4,007,548) + Linear(1280, 5); only the head trains.
  Json efficientnet = summary_json(fs::path(TL_SOURCE_DIR) / "configs/flowers_efficientnet_b0.json",
                                   tl::test::full_width_backbone("efficientnet_b0"));
  EXPECT_EQ(efficientnet["total_params"], 4013953);
  EXPECT_EQ(efficientnet["trainable_params"], 6405);
}

TEST(Configs, SummaryWithoutClassCountOrDatasetNamesNumClasses) {
  tl::test::TempDir dir;
  const std::string config = dir.str("no_classes.json");
  tl::test::write_text(config, R"({"model": {"backbone": "unused.pt", "num_classes": 0}, "data": {"root": ""}})");
  RunResult r = run_tl({"summary", "--config", config, "--json"});
  EXPECT_EQ(r.exit_code, tl::kExitConfig) << r.err;
  EXPECT_NE(r.err.find("model.num_classes"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  // The same through --set on a shipped config.
  RunResult set = run_tl({"summary", "--config", TL_SOURCE_DIR "/configs/flowers.json", "--set", "model.num_classes=0",
                          "--set", "data.root=", "--json"});
  EXPECT_EQ(set.exit_code, tl::kExitConfig) << set.err;
  EXPECT_NE(set.err.find("model.num_classes"), std::string::npos) << set.err;
}

// summary --out DIR writes the resolved config: every key, with the --set values and the class count.
TEST(Configs, SummaryWritesTheResolvedConfigWithOut) {
  tl::test::TempDir dir;
  const std::string backbone = tl::test::tiny_backbone(16, true);
  RunResult r =
      run_tl({"summary", "--config", TL_SOURCE_DIR "/configs/flowers.json", "--set", "model.backbone=" + backbone,
              "--set", "model.input_size=32", "--set", "threads=1", "--out", dir.str("out/nested"), "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json written = Json::parse(tl::test::read_text(dir.path() / "out/nested/config.json"));
  EXPECT_EQ(written["model"]["backbone"], backbone);
  EXPECT_EQ(written["model"]["input_size"], 32);
  EXPECT_EQ(written["model"]["num_classes"], 5);  // flowers.json's five classes
  for (const auto& item : tl::default_config_json().items()) EXPECT_TRUE(written.contains(item.key())) << item.key();
  // The config round-trips: the written file gives the same summary.
  EXPECT_EQ(run_tl({"summary", "--config", dir.str("out/nested/config.json"), "--json"}).out,
            run_tl({"summary", "--config", TL_SOURCE_DIR "/configs/flowers.json", "--set", "model.backbone=" + backbone,
                    "--set", "model.input_size=32", "--set", "threads=1", "--json"})
                .out);
}

}  // namespace
