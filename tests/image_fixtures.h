#pragma once
// Tiny image files and dataset trees for the data tests, written with cv::imwrite.
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "test_util.h"

namespace tl::test {

// Writes a width x height colour image whose pixels depend on `seed` and are not mirror-symmetric
// (so a horizontal flip changes them). The format follows the file extension.
inline void write_image(const fs::path& path, int seed = 0, int width = 16, int height = 12) {
  fs::create_directories(path.parent_path());
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) image.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uchar>((x * 29 + y * 7 + c * 61 + seed * 37) % 256);
  if (!cv::imwrite(path.string(), image)) throw std::runtime_error("cannot write test image " + path.string());
}

// Writes counts[name] images "img_<i><ext>" into dir/<name>/ for each class.
inline void write_class_tree(const fs::path& dir, const std::map<std::string, int>& counts, const std::string& ext = ".png") {
  int seed = 0;
  for (const auto& [name, count] : counts)
    for (int i = 0; i < count; ++i) write_image(dir / name / ("img_" + std::to_string(i) + ext), seed++);
}

// A file with an image extension that is not an image.
inline void write_garbage(const fs::path& path) { write_text(path, "this is not an image, just text"); }

}  // namespace tl::test
