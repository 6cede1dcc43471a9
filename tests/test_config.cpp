#include <gtest/gtest.h>

#include "test_util.h"
#include "tl/config.h"
#include "tl/errors.h"

namespace {

using tl::Json;
using tl::test::TempDir;
using tl::test::write_text;
namespace fs = std::filesystem;

std::string config_error(const Json& user) {
  try {
    tl::parse_config(user, "x.json");
  } catch (const tl::ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string load_error(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    tl::load_config(path, overrides);
  } catch (const tl::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsFillEverything) {
  tl::Config c = tl::parse_config(Json::object(), "x.json");
  EXPECT_EQ(c.optim.name, tl::OptimizerName::Adam);
  EXPECT_EQ(c.train.batch_size, 32);
  EXPECT_EQ(c.model.input_size, 224);
  EXPECT_EQ(c.model.freeze, "none");
  EXPECT_EQ(c.data.normalize.channel_order, "RGB");
  EXPECT_EQ(c.data.split, (std::array<double, 3>{0.7, 0.15, 0.15}));
  EXPECT_EQ(c.model.head.dropout.size(), 1u);
  EXPECT_EQ(c.resolved["train"]["epochs"], 10);
  EXPECT_EQ(c.resolved, tl::default_config_json());
}

// AugmentConfig is the one struct with defaults of its own: they must be the schema's.
TEST(Config, AugmentStructDefaultsAreTheSchemasDefaults) {
  const tl::AugmentConfig schema = tl::default_config().data.augment, plain;
  EXPECT_FALSE(plain.enabled());
  EXPECT_EQ(schema.rotation_range, plain.rotation_range);
  EXPECT_EQ(schema.width_shift_range, plain.width_shift_range);
  EXPECT_EQ(schema.height_shift_range, plain.height_shift_range);
  EXPECT_EQ(schema.zoom_range, plain.zoom_range);
  EXPECT_EQ(schema.shear_range, plain.shear_range);
  EXPECT_EQ(schema.horizontal_flip, plain.horizontal_flip);
  EXPECT_EQ(schema.vertical_flip, plain.vertical_flip);
  EXPECT_EQ(schema.brightness_range, plain.brightness_range);
  EXPECT_EQ(schema.fill_mode, plain.fill_mode);
  EXPECT_EQ(schema.crop_scale, plain.crop_scale);
  EXPECT_EQ(schema.crop_ratio, plain.crop_ratio);
  EXPECT_EQ(schema.color_jitter, plain.color_jitter);
}

TEST(Config, ValuesAreParsed) {
  Json user = Json::parse(
      R"({"model": {"freeze": 7, "input_size": 32, "head": {"pool": "flatten", "hidden": [100, 50], "dropout": [0.2, 0.1, 0.0]},
                             "unfreeze_at": {"3": "block4_conv1"}},
                             "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": true},
                             "data": {"normalize": "caffe", "augment": {"horizontal_flip": true, "brightness_range": [0.8, 1.2]}},
                             "train": {"class_weights": [1, 2.5], "epochs": 3.0, "early_stopping": {"monitor": "val_acc"}}})");
  tl::Config c = tl::parse_config(user, "x.json");
  EXPECT_EQ(c.model.freeze, "7");
  EXPECT_EQ(c.model.head.pool, tl::HeadPool::Flatten);
  EXPECT_EQ(c.model.head.hidden, (std::vector<int64_t>{100, 50}));
  EXPECT_EQ(c.model.head.dropout, (std::vector<double>{0.2, 0.1, 0.0}));
  EXPECT_EQ(c.model.unfreeze_at.at(3), "block4_conv1");
  EXPECT_EQ(c.optim.name, tl::OptimizerName::Sgd);
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.9);
  EXPECT_EQ(c.data.normalize_preset, tl::NormalizePreset::Caffe);
  EXPECT_EQ(c.data.normalize.channel_order, "BGR");
  EXPECT_DOUBLE_EQ(c.data.normalize.mean[0], 103.939);
  EXPECT_TRUE(c.data.augment.enabled());
  EXPECT_EQ(c.train.class_weights_mode, tl::ClassWeights::List);
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_EQ(c.train.early_stopping.monitor, tl::Metric::ValAcc);
  EXPECT_FALSE(tl::default_config().train.early_stopping.monitor.has_value());
}

TEST(Config, UnknownKeySuggestsTheNearestOne) {
  std::string e = config_error(Json::parse(R"({"train": {"epoch": 3}})"));
  EXPECT_NE(e.find("'train.epoch' is not a known key"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'train.epochs'"), std::string::npos) << e;
}

TEST(Config, WrongTypeNamesKeyAndTypes) {
  std::string e = config_error(Json::parse(R"({"train": {"batch_size": "big"}})"));
  EXPECT_NE(e.find("'train.batch_size' must be an integer, got a string"), std::string::npos) << e;
  e = config_error(Json::parse(R"({"train": {"epochs": 2.5}})"));
  EXPECT_NE(e.find("'train.epochs' must be an integer"), std::string::npos) << e;
  e = config_error(Json::parse(R"({"train": 3})"));
  EXPECT_NE(e.find("'train' must be an object"), std::string::npos) << e;
}

TEST(Config, OutOfRangeValuesAreAllReportedAtOnce) {
  std::string e = config_error(Json::parse(R"({"optim": {"lr": 0}, "train": {"batch_size": 0},
                                               "data": {"split": [0.5, 0.3, 0.3]}, "model": {"input_size": 16}})"));
  EXPECT_NE(e.find("'optim.lr'"), std::string::npos) << e;
  EXPECT_NE(e.find("'train.batch_size'"), std::string::npos) << e;
  EXPECT_NE(e.find("'data.split'"), std::string::npos) << e;
  EXPECT_NE(e.find("'model.input_size'"), std::string::npos) << e;
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 3) << e;  // four problems, one line each
}

TEST(Config, EnumsListTheChoices) {
  std::string e = config_error(Json::parse(R"({"optim": {"name": "rmsprop"}})"));
  EXPECT_NE(e.find("use one of: adam, adamw, sgd"), std::string::npos) << e;
  e = config_error(Json::parse(R"({"model": {"head": {"hidden": [10], "dropout": [0.1]}}})"));
  EXPECT_NE(e.find("'model.head.dropout'"), std::string::npos) << e;
  e = config_error(Json::parse(R"({"data": {"normalize": {"mean": [1, 2]}}})"));
  EXPECT_NE(e.find("'data.normalize'"), std::string::npos) << e;
  e = config_error(Json::parse(R"({"train": {"early_stopping": {"monitor": "val_f1"}}})"));
  EXPECT_NE(e.find("'train.early_stopping.monitor'"), std::string::npos) << e;
}

TEST(Config, InterpolationChoosesTheResizeFilter) {
  EXPECT_EQ(tl::parse_config(Json::object(), "x.json").data.interpolation, tl::Interpolation::Area);
  const Json bicubic = Json::parse(R"({"data": {"interpolation": "bicubic"}})");
  EXPECT_EQ(tl::parse_config(bicubic, "x.json").data.interpolation, tl::Interpolation::Bicubic);
  const std::string e = config_error(Json::parse(R"({"data": {"interpolation": "lanczos"}})"));
  EXPECT_NE(e.find("use one of: area, nearest, bilinear, bicubic"), std::string::npos) << e;
}

// Keras: shift ranges >= 1 are pixels; a sane cap remains.
TEST(Config, ShiftRangesAcceptPixels) {
  const tl::Config c = tl::parse_config(
      Json::parse(R"({"data": {"augment": {"width_shift_range": 12, "height_shift_range": 0.1}}})"), "x.json");
  EXPECT_EQ(c.data.augment.width_shift_range, 12);
  EXPECT_EQ(c.data.augment.height_shift_range, 0.1);
  const std::string e = config_error(Json::parse(R"({"data": {"augment": {"height_shift_range": 5000}}})"));
  EXPECT_NE(e.find("'data.augment.height_shift_range'"), std::string::npos) << e;
  EXPECT_NE(e.find("<= 4096"), std::string::npos) << e;
}

TEST(Config, OverridesParseJsonElseString) {
  Json c = Json::object();
  tl::apply_override(c, "train.epochs=3");
  tl::apply_override(c, "model.backbone=models/vgg16.pt");
  tl::apply_override(c, "model.head.hidden=[64, 32]");
  tl::apply_override(c, "train.epochs=4");
  EXPECT_EQ(c["train"]["epochs"], 4);
  EXPECT_EQ(c["model"]["backbone"], "models/vgg16.pt");
  EXPECT_EQ(c["model"]["head"]["hidden"], Json::parse("[64, 32]"));
  EXPECT_THROW(tl::apply_override(c, "novalue"), tl::ConfigError);
  EXPECT_THROW(tl::apply_override(c, "train..epochs=1"), tl::ConfigError);
  EXPECT_THROW(tl::apply_override(c, "train.=1"), tl::ConfigError);
}

// --set model={...} merges into what earlier --set (and the file) gave model, instead of dropping it.
TEST(Config, ObjectOverridesMergeWithEarlierOnes) {
  Json c = Json::parse(R"({"model": {"input_size": 64}})");
  tl::apply_override(c, "model.freeze=all");
  tl::apply_override(c, R"(model={"head": {"pool": "max"}})");
  EXPECT_EQ(c["model"]["input_size"], 64);
  EXPECT_EQ(c["model"]["freeze"], "all");
  EXPECT_EQ(c["model"]["head"]["pool"], "max");
  // A key whose value is an object (unfreeze_at) is replaced, not merged.
  tl::apply_override(c, R"(model.unfreeze_at={"3": "block5_conv1"})");
  tl::apply_override(c, R"(model.unfreeze_at={"5": "none"})");
  EXPECT_EQ(c["model"]["unfreeze_at"], Json::parse(R"({"5": "none"})"));
}

TEST(Config, ErrorsNameTheSetThatGaveTheValue) {
  TempDir dir;
  write_text(dir.path() / "exp.json", R"({"optim": {"lr": 0.01}, "train": {"epochs": 0}})");
  const std::string e = load_error(dir.str("exp.json"), {"optim.lr=0"});
  EXPECT_NE(e.find("--set optim.lr=0: 'optim.lr' is 0"), std::string::npos) << e;
  EXPECT_NE(e.find(dir.str("exp.json") + ": 'train.epochs' is 0"), std::string::npos) << e;
  EXPECT_EQ(e.find(dir.str("exp.json") + ": 'optim.lr'"), std::string::npos) << e;
  const std::string nested = load_error(dir.str("exp.json"), {"train.epochs=2", R"(optim={"lr": -1})"});
  EXPECT_NE(nested.find(R"(--set optim={"lr": -1}: 'optim.lr')"), std::string::npos) << nested;
}

TEST(Config, LoadAppliesOverridesAndValidatesTheMerge) {
  TempDir dir;
  write_text(dir.path() / "exp.json", R"({"train": {"epochs": 5}})");
  tl::Config c = tl::load_config(dir.str("exp.json"), {"train.epochs=2", "optim.lr=0.5"});
  EXPECT_EQ(c.train.epochs, 2);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.5);
  EXPECT_EQ(c.name, "exp");
  EXPECT_THROW(tl::load_config(dir.str("exp.json"), {"train.epocs=2"}), tl::ConfigError);
}

TEST(Config, MalformedJsonGivesLineAndColumn) {
  TempDir dir;
  write_text(dir.path() / "bad.json", "{\n  \"train\": {\n    \"epochs\": 3,,\n  }\n}\n");
  const std::string m = load_error(dir.str("bad.json"));
  EXPECT_NE(m.find("bad.json:3:"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(Config, DuplicateKeysAreErrorsWithLineAndColumn) {
  TempDir dir;
  write_text(dir.path() / "twice.json",
             "{\n  // comment\n  \"train\": {\"epochs\": 3,\n            \"epochs\": 5}\n}\n");
  const std::string m = load_error(dir.str("twice.json"));
  EXPECT_NE(m.find("twice.json:4:13: key 'epochs' appears twice"), std::string::npos) << m;
  // The same name in two different objects is fine.
  write_text(dir.path() / "fine.json", R"({"train": {"seed": 1}, "data": {"seed": 2}})");
  EXPECT_EQ(load_error(dir.str("fine.json")), "");
}

TEST(Config, MissingFileSaysSo) {
  const std::string m = load_error("/no/such.json");
  EXPECT_NE(m.find("/no/such.json"), std::string::npos) << m;
}

// Configs recorded in checkpoints by an older tl-train: renamed keys and values that no longer
// validate must not make them unloadable.
TEST(Config, RecordedConfigsAreReadLeniently) {
  const Json old = Json::parse(R"({"data": {"root": "d", "resize": "squash", "retired_key": 1},
                                   "train": {"batch_size": 8}, "gone": {"x": 1}})");
  const tl::Config c = tl::parse_config_leniently(old, "old.pt");
  EXPECT_EQ(c.data.root, "d");
  EXPECT_EQ(c.train.batch_size, 8);
  EXPECT_EQ(c.data.resize, tl::ResizeMode::Stretch);  // the default replaces what no longer parses
  EXPECT_THROW(tl::parse_config(old, "old.pt"), tl::ConfigError);
}

// The configuration reference in docs/ is the schema's own table.
TEST(Config, ReferenceInTheDocsMatchesTheSchema) {
  const std::string docs = tl::test::read_text(fs::path(TL_SOURCE_DIR) / "docs" / "configuration.md");
  const std::string table = tl::configuration_reference_markdown();
  EXPECT_NE(docs.find(table), std::string::npos)
      << "docs/configuration.md does not hold the schema's table; replace it with:\n"
      << table;
  for (const auto& item : tl::default_config_json().items()) EXPECT_NE(table.find(item.key()), std::string::npos);
}

TEST(Config, ChoiceNamesRoundTrip) {
  for (const auto& [name, value] : tl::names_of<tl::Metric>()) EXPECT_EQ(tl::parse_choice<tl::Metric>(name), value);
  EXPECT_EQ(tl::name_of(tl::Layout::Fruits360), "fruits360");
  EXPECT_FALSE(tl::parse_choice<tl::Amp>("fp8").has_value());
  EXPECT_TRUE(tl::metric_maximizes(tl::Metric::ValAcc));
  EXPECT_FALSE(tl::metric_maximizes(tl::Metric::ValLoss));
  EXPECT_TRUE(tl::metric_maximizes(tl::Metric::ValLoss, tl::MonitorMode::Max));
}

}  // namespace
