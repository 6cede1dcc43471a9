#pragma once
// Small learnable datasets and configs for end-to-end tests: each class is a distinct colour with
// per-image noise, so even a random-weight backbone separates them within a few epochs.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/core.hpp>

#include <random>

#include "test_util.h"

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
  const std::pair<const char*, int> splits[] = {{"training", train_per_class}, {"validation", val_per_class},
                                                {"evaluation", test_per_class}};
  for (const auto& [split, count] : splits) {
    fs::create_directories(root / split);
    for (int c = 0; c < classes; ++c)
      for (int i = 0; i < count; ++i)
        cv::imwrite((root / split / (std::to_string(c) + "_" + std::to_string(i) + ".png")).string(), class_image(c, size, rng));
  }
}

// A config for a short CPU run on such a dataset with the tiny exported backbone.
inline std::string write_train_config(const fs::path& path, const std::string& data_root, const std::string& backbone,
                                      const std::string& out, const std::string& extra_train = "",
                                      const std::string& model_extra = "") {
  std::string text = R"({
  "threads": 1,
  "data": {"root": ")" + data_root + R"(", "layout": "food11", "workers": 1},
  "model": {"backbone": ")" + backbone + R"(", "input_size": 32, "freeze": "none",
            "head": {"pool": "avg", "hidden": [16], "dropout": 0.0})" + model_extra + R"(},
  "optim": {"name": "adam", "lr": 0.001},
  "train": {"epochs": 3, "batch_size": 8, "seed": 3, "out": ")" + out + R"(")" + extra_train + R"(}
})";
  write_text(path, text);
  return path.string();
}

}  // namespace tl::test
