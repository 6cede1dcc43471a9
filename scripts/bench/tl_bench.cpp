// tl_bench: the two figures of the benchmark that the tl-train CLI does not print by itself.
//   tl_bench pipeline ROOT SIZE WORKERS EPOCHS BATCH  -> decode + resize + normalise + batch rate
//   tl_bench load CHECKPOINT                          -> seconds spent loading a checkpoint
// Both print one JSON object. Built with -DTL_BUILD_BENCH=ON (scripts/bench/run.sh does).
#include <chrono>
#include <iostream>
#include <string>

#include "tl/checkpoint.h"
#include "tl/choices.h"
#include "tl/config.h"
#include "tl/dataset.h"
#include "tl/device.h"
#include "tl/loader.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The training split through the same Loader (and options) that `tl-train train` uses.
int pipeline(const std::string& root, int size, int workers, int epochs, int batch) {
  tl::DataConfig data = tl::default_config().data;  // every other key as `tl-train train` has it
  data.root = root;
  data.layout = tl::Layout::Food11;
  tl::DatasetIndex index = tl::scan_dataset(data);
  tl::LoaderOptions options;
  options.batch_size = batch;
  options.workers = workers;
  options.image_size = size;
  options.resize = data.resize;
  options.interpolation = data.interpolation;
  options.max_pixels = data.max_pixels;
  options.normalize = data.normalize;
  tl::Loader loader(index.train, options);
  int64_t images = 0;
  const auto start = Clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) images += batch->images.size(0);
  }
  const double seconds = seconds_since(start);
  std::cout << "{\"images\": " << images << ", \"seconds\": " << seconds << ", \"images_per_s\": " << images / seconds
            << "}\n";
  return 0;
}

// What `tl-train predict` spends on its model before the first image.
int load(const std::string& path) {
  const auto start = Clock::now();
  tl::LoadedCheckpoint checkpoint = tl::load_checkpoint(path, torch::kCPU);
  checkpoint.model.train(false);
  std::cout << "{\"load_s\": " << seconds_since(start) << "}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "pipeline" && argc == 7)
    return pipeline(argv[2], std::stoi(argv[3]), std::stoi(argv[4]), std::stoi(argv[5]), std::stoi(argv[6]));
  if (mode == "load" && argc == 3) return load(argv[2]);
  std::cerr << "usage: tl_bench pipeline ROOT SIZE WORKERS EPOCHS BATCH | tl_bench load CHECKPOINT\n";
  return 2;
}
