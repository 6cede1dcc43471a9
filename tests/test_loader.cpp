#include <algorithm>
#include <map>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "../src/command_helpers.h"
#include "image_fixtures.h"
#include "test_util.h"
#include "tl/errors.h"
#include "tl/image.h"
#include "tl/loader.h"

namespace tl {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_garbage;
using test::write_image;

// `count` distinct 8x8 PNG images, alternating labels 0 and 1.
std::vector<Sample> write_samples(const TempDir& dir, int count) {
  std::vector<Sample> samples;
  for (int i = 0; i < count; ++i) {
    const std::string path = dir.str("img_" + std::to_string(i) + ".png");
    write_image(path, i, 8, 8);
    samples.push_back({path, i % 2});
  }
  return samples;
}

LoaderOptions small_options(int64_t batch_size, int workers = 2) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.workers = workers;
  options.image_size = 8;
  return options;
}

std::vector<Batch> run_epoch(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<int64_t> indices_of(const std::vector<Batch>& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.indices.begin(), b.indices.end());
  return out;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].images, b[i].images)) << "batch " << i;
    EXPECT_TRUE(torch::equal(a[i].labels, b[i].labels)) << "batch " << i;
  }
}

TEST(Loader, EverySampleOncePerEpochWithPartialLastBatch) {
  TempDir dir;
  auto samples = write_samples(dir, 23);
  LoaderOptions options = small_options(5, 3);
  options.shuffle = true;
  Loader loader(samples, options);
  EXPECT_EQ(loader.batches_per_epoch(), 5);
  const auto batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 5u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(batches[i].images.size(0), 5);
  EXPECT_EQ(batches[4].images.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(batches[4].labels.sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(batches[0].images.dtype(), torch::kFloat32);
  EXPECT_EQ(batches[0].labels.dtype(), torch::kInt64);
  for (const auto& b : batches)
    for (size_t k = 0; k < b.indices.size(); ++k) EXPECT_EQ(b.labels[int64_t(k)].item<int64_t>(), b.indices[k] % 2);
  auto seen = indices_of(batches);
  std::sort(seen.begin(), seen.end());
  for (int64_t i = 0; i < 23; ++i) EXPECT_EQ(seen[size_t(i)], i);
  EXPECT_FALSE(loader.next().has_value());  // stays finished
}

TEST(Loader, DropLastDropsThePartialBatch) {
  TempDir dir;
  LoaderOptions options = small_options(5);
  options.drop_last = true;
  Loader loader(write_samples(dir, 23), options);
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  const auto batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(indices_of(batches),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}));
}

TEST(Loader, ShuffleChangesPerEpochAndIsReproducible) {
  TempDir dir;
  auto samples = write_samples(dir, 23);
  LoaderOptions options = small_options(4);
  options.shuffle = true;
  options.seed = 3;
  Loader a(samples, options), b(samples, options);
  const auto a0 = indices_of(run_epoch(a, 0)), a1 = indices_of(run_epoch(a, 1));
  EXPECT_NE(a0, a1);
  EXPECT_EQ(indices_of(run_epoch(b, 1)), a1);
  EXPECT_EQ(indices_of(run_epoch(b, 0)), a0);
  options.seed = 4;
  Loader c(samples, options);
  EXPECT_NE(indices_of(run_epoch(c, 0)), a0);
}

TEST(Loader, SameTensorsForAnyWorkerCountWithAugmentation) {
  TempDir dir;
  auto samples = write_samples(dir, 21);
  LoaderOptions options = small_options(4, 1);
  options.shuffle = true;
  options.augment = AugmentConfig{};
  options.augment->horizontal_flip = true;
  options.prefetch_batches = 1;
  Loader one(samples, options);
  options.workers = 3;
  options.prefetch_batches = 4;
  Loader three(samples, options);
  for (int64_t epoch = 0; epoch < 2; ++epoch) expect_same_batches(run_epoch(one, epoch), run_epoch(three, epoch));

  // Augmentation did change some images.
  options.augment.reset();
  Loader plain(samples, options);
  const auto p = run_epoch(plain, 0), o = run_epoch(one, 0);
  bool any_differs = false;
  for (size_t i = 0; i < p.size(); ++i) any_differs |= !torch::equal(p[i].images, o[i].images);
  EXPECT_TRUE(any_differs);
}

TEST(Loader, MemoryCacheGivesTheSameTensors) {
  TempDir dir;
  auto samples = write_samples(dir, 10);
  LoaderOptions options = small_options(3);
  Loader plain(samples, options);
  options.cache_memory = true;
  options.cache_bytes = 5 * 8 * 8 * 3;  // room for half of the images
  options.workers = 1;                  // so the first five are the ones cached
  Loader cached(samples, options);
  const auto reference = run_epoch(plain, 0);
  expect_same_batches(run_epoch(cached, 0), reference);
  // The cached copies are used from now on, even after the files are gone.
  for (int i = 0; i < 5; ++i) fs::remove(samples[size_t(i)].path);
  const auto again = run_epoch(cached, 1);
  EXPECT_EQ(indices_of(again), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  expect_same_batches(again, reference);
}

TEST(Loader, BadFileIsLeftOutOfItsBatch) {
  TempDir dir;
  auto samples = write_samples(dir, 10);
  Loader clean(samples, small_options(4));
  const auto reference = run_epoch(clean, 0);
  write_garbage(samples[5].path);  // valid when scanned, broken when loaded
  Loader loader(samples, small_options(4));
  const auto batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1].indices, (std::vector<int64_t>{4, 6, 7}));
  EXPECT_EQ(batches[1].images.size(0), 3);
  EXPECT_TRUE(torch::equal(batches[1].images[0], reference[1].images[0]));
  EXPECT_TRUE(torch::equal(batches[1].images.narrow(0, 1, 2), reference[1].images.narrow(0, 2, 2)));
  EXPECT_TRUE(torch::equal(batches[1].labels, torch::tensor({0, 0, 1}, torch::kInt64)));
  EXPECT_EQ(loader.skipped(), 1);
  run_epoch(loader, 1);
  EXPECT_EQ(loader.skipped(), 2);
}

// The step stays (with no rows), so that every process of a data-parallel run takes the same steps.
TEST(Loader, BatchWithOnlyBadFilesIsEmpty) {
  TempDir dir;
  auto samples = write_samples(dir, 6);
  write_garbage(samples[2].path);
  write_garbage(samples[3].path);
  Loader loader(samples, small_options(2));
  const auto batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1].size(), 0);
  EXPECT_EQ(batches[1].images.size(0), 0);
  EXPECT_EQ(indices_of(batches), (std::vector<int64_t>{0, 1, 4, 5}));
  EXPECT_EQ(loader.skipped(), 2);
}

TEST(Loader, FailModeThrowsFromNext) {
  TempDir dir;
  auto samples = write_samples(dir, 12);
  write_garbage(samples[9].path);
  LoaderOptions options = small_options(4, 3);
  options.fail_on_bad_image = true;
  Loader loader(samples, options);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  ASSERT_TRUE(loader.next().has_value());
  try {
    loader.next();
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(samples[9].path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("on_bad_image"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(loader.next().has_value());
  EXPECT_THROW(run_epoch(loader, 1), DataError);  // a new epoch meets the file again
}

// data.interpolation reaches the loader's images: PIL's bilinear, as PIL wrote it.
TEST(Loader, ResizesWithTheConfiguredInterpolation) {
  const std::string dir = std::string(TL_SOURCE_DIR) + "/tests/fixtures/pil_resize/";
  LoaderOptions options = small_options(1, 1);
  options.image_size = 40;
  options.interpolation = Interpolation::Bilinear;
  options.normalize = Normalization{"RGB", 1.0, {0, 0, 0}, {1, 1, 1}};
  Loader loader({{dir + "input.png", 0}}, options);
  const std::vector<Batch> batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  const torch::Tensor expected = image_to_tensor(decode_image(dir + "bilinear_40x40.png", 1 << 20), options.normalize);
  EXPECT_TRUE(torch::equal(batches[0].images, expected));
}

// random_resized_crop cuts the decoded original (torchvision), not the image resized to the input
// size; with the memory cache, the cached original gives every epoch a fresh crop.
TEST(Loader, RandomResizedCropCutsTheOriginal) {
  TempDir dir;
  cv::Mat coords(200, 256, CV_8UC3);  // each pixel holds its own x (blue) and y (green)
  for (int y = 0; y < coords.rows; ++y)
    for (int x = 0; x < coords.cols; ++x) coords.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x), uint8_t(y), 0);
  const std::string path = dir.str("coords.png");
  ASSERT_TRUE(cv::imwrite(path, coords));
  LoaderOptions options = small_options(1, 1);
  options.image_size = 16;
  options.interpolation = Interpolation::Nearest;
  options.normalize = Normalization{"BGR", 1.0, {0, 0, 0}, {1, 1, 1}};  // channel 0: x, 1: y
  options.augment = AugmentConfig{};
  options.augment->crop_scale = {0.25, 0.25};  // a 113 px square of the original
  options.augment->crop_ratio = {1, 1};
  Loader plain({{path, 0}}, options);
  options.cache_memory = true;
  Loader cached({{path, 0}}, options);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const std::vector<Batch> batches = run_epoch(plain, epoch);
    ASSERT_EQ(batches.size(), 1u);
    const torch::Tensor image = batches[0].images[0];
    for (int64_t c = 0; c < 2; ++c)  // nearest samples window pixels 3 to 109: in the original's pixels
      EXPECT_NEAR((image[c].max() - image[c].min()).item<double>(), 106, 1) << "epoch " << epoch << " channel " << c;
    expect_same_batches(run_epoch(cached, epoch), batches);
  }
  EXPECT_EQ(cached.cache_stats().bytes, 256 * 200 * 3);  // the original is what is cached
}

// evaluate and predict preprocess as the checkpoint's training did: its recorded interpolation,
// and `area` for checkpoints recorded before the key existed.
TEST(Loader, CheckpointOptionsUseTheRecordedInterpolation) {
  CheckpointInfo info;
  info.config = parse_config_leniently(Json::parse(R"({"data": {"interpolation": "bicubic"}})"), "new.pt");
  EXPECT_EQ(checkpoint_loader_options(info, 1, torch::kCPU).interpolation, Interpolation::Bicubic);
  info.config = parse_config_leniently(Json::parse(R"({"data": {"resize": "stretch"}})"), "old.pt");
  EXPECT_EQ(checkpoint_loader_options(info, 1, torch::kCPU).interpolation, Interpolation::Area);
}

TEST(Loader, StoppingMidEpochDoesNotHang) {
  TempDir dir;
  auto samples = write_samples(dir, 40);
  LoaderOptions options = small_options(2, 3);
  options.prefetch_batches = 1;
  {
    Loader loader(samples, options);
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
  }  // destroyed with workers blocked on a full queue
  Loader loader(samples, options);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  EXPECT_EQ(run_epoch(loader, 1).size(), 20u);  // restarting mid-epoch gives a full new epoch
  Loader never_started(samples, options);
  EXPECT_THROW(never_started.next(), std::logic_error);
}

}  // namespace
}  // namespace tl
