#include <gtest/gtest.h>

#include "test_util.h"
#include "tl/config.h"
#include "tl/errors.h"

namespace {

using tl::Json;
using tl::test::TempDir;
using tl::test::write_text;

std::string config_error(const Json& user) {
  try {
    tl::parse_config(user, "x.json");
  } catch (const tl::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsFillEverything) {
  tl::Config c = tl::parse_config(Json::object(), "x.json");
  EXPECT_EQ(c.optim.name, "adam");
  EXPECT_EQ(c.train.batch_size, 32);
  EXPECT_EQ(c.model.input_size, 224);
  EXPECT_EQ(c.model.freeze, "none");
  EXPECT_EQ(c.data.normalize.channel_order, "RGB");
  EXPECT_EQ(c.model.head.dropout.size(), 1u);
  EXPECT_EQ(c.resolved["train"]["epochs"], 10);
}

TEST(Config, ValuesAreParsed) {
  Json user = Json::parse(R"({"model": {"freeze": 7, "input_size": 32, "head": {"pool": "flatten", "hidden": [100, 50], "dropout": [0.2, 0.1, 0.0]},
                             "unfreeze_at": {"3": "block4_conv1"}},
                             "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": true},
                             "data": {"normalize": "caffe", "augment": {"horizontal_flip": true, "brightness_range": [0.8, 1.2]}},
                             "train": {"class_weights": [1, 2.5], "epochs": 3.0}})");
  tl::Config c = tl::parse_config(user, "x.json");
  EXPECT_EQ(c.model.freeze, "7");
  EXPECT_EQ(c.model.head.hidden, (std::vector<int64_t>{100, 50}));
  EXPECT_EQ(c.model.head.dropout, (std::vector<double>{0.2, 0.1, 0.0}));
  EXPECT_EQ(c.model.unfreeze_at.at(3), "block4_conv1");
  EXPECT_EQ(c.optim.name, "sgd");
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.9);
  EXPECT_EQ(c.data.normalize.channel_order, "BGR");
  EXPECT_DOUBLE_EQ(c.data.normalize.mean[0], 103.939);
  EXPECT_TRUE(c.data.augment.enabled());
  EXPECT_EQ(c.train.class_weights_mode, "list");
  EXPECT_EQ(c.train.epochs, 3);
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
  try {
    tl::load_config(dir.str("bad.json"), {});
    FAIL() << "no error";
  } catch (const tl::ConfigError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad.json:3:"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(Config, MissingFileSaysSo) {
  try {
    tl::load_config("/no/such.json", {});
    FAIL() << "no error";
  } catch (const tl::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such.json"), std::string::npos);
  }
}

}  // namespace
