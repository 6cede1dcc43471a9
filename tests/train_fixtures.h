#pragma once
// Small learnable datasets and configs for end-to-end tests: each class is a distinct colour with
// per-image noise, so even a random-weight backbone separates them within a few epochs.
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <random>

#include "backbone_fixtures.h"
#include "test_util.h"
#include "tl/config.h"

namespace tl::test {

inline cv::Mat class_image(int label, int size, std::mt19937& rng) {
  static const cv::Scalar palette[] = {{230, 40, 40}, {40, 200, 40}, {40, 40, 220}, {200, 200, 40}, {200, 40, 200}};
  std::normal_distribution<double> noise(0, 25);
  cv::Mat img(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c)
        img.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uchar>(palette[label % 5][c] + noise(rng));
  return img;
}

// A Food-11 style tree: training/, validation/, evaluation/ with <label>_<n>.png files.
inline void write_food11_dataset(const fs::path& root, int classes, int train_per_class, int val_per_class,
                                 int test_per_class, int size = 32, unsigned seed = 1) {
  std::mt19937 rng(seed);
  const std::pair<const char*, int> splits[] = {
      {"training", train_per_class}, {"validation", val_per_class}, {"evaluation", test_per_class}};
  for (const auto& [split, count] : splits) {
    fs::create_directories(root / split);
    for (int c = 0; c < classes; ++c)
      for (int i = 0; i < count; ++i)
        cv::imwrite((root / split / (std::to_string(c) + "_" + std::to_string(i) + ".png")).string(),
                    class_image(c, size, rng));
  }
}

// A config for a short CPU run on such a dataset with the tiny exported backbone. `extra_train` and
// `model_extra` are extra members (", \"epochs\": 6") that replace the defaults here.
inline std::string write_train_config(const fs::path& path, const std::string& data_root, const std::string& backbone,
                                      const std::string& out, const std::string& extra_train = "",
                                      const std::string& model_extra = "") {
  tl::Json config = {{"threads", 1},
                     {"data", {{"root", data_root}, {"layout", "food11"}, {"workers", 1}}},
                     {"model",
                      {{"backbone", backbone},
                       {"input_size", 32},
                       {"freeze", "none"},
                       {"head", {{"pool", "avg"}, {"hidden", {16}}, {"dropout", 0.0}}}}},
                     {"optim", {{"name", "adam"}, {"lr", 0.001}}},
                     {"train", {{"epochs", 3}, {"batch_size", 8}, {"seed", 3}, {"out", out}}}};
  const auto members = [](const std::string& extra) {
    const size_t comma = extra.find(',');
    return tl::Json::parse("{" + (comma == std::string::npos ? extra : extra.substr(comma + 1)) + "}");
  };
  const tl::Json train = members(extra_train), model = members(model_extra);
  for (const auto& [key, value] : train.items()) config["train"][key] = value;
  for (const auto& [key, value] : model.items()) config["model"][key] = value;
  write_text(path, config.dump(2));
  return path.string();
}

// A temporary directory with the tiny backbone and a learnable Food-11 style dataset in data/;
// config(name) writes <name>.json for a run into <dir>/<name>.
struct TrainSetup {
  TempDir dir;
  std::string backbone;
  std::string data;
  explicit TrainSetup(int classes = 3, int per_class = 12, int val_per_class = 4, int test_per_class = 4) {
    backbone = tl::test::tiny_backbone(16, true);
    data = dir.str("data");
    write_food11_dataset(data, classes, per_class, val_per_class, test_per_class);
  }
  std::string config(const std::string& name, const std::string& extra_train = "",
                     const std::string& model_extra = "") {
    return write_train_config(dir.path() / (name + ".json"), data, backbone, dir.str(name), extra_train, model_extra);
  }
  std::string run_dir(const std::string& name) const { return dir.str(name); }
  tl::Json history(const std::string& name) const {
    return tl::Json::parse(read_text(dir.path() / name / "history.json"));
  }
};

// Same epochs with the same loss, acc, val_loss, val_acc and lr (seconds differ).
inline void expect_same_history(const tl::Json& a, const tl::Json& b, double tolerance) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t e = 0; e < a.size(); ++e)
    for (const char* key : {"loss", "acc", "val_loss", "val_acc", "lr"})
      EXPECT_NEAR(a[e][key].get<double>(), b[e][key].get<double>(), tolerance) << "epoch " << e + 1 << " " << key;
}

}  // namespace tl::test
