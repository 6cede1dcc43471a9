#pragma once
// Batches of normalised tensors from a list of samples: worker threads decode and augment ahead
// of the consumer into a bounded queue; each epoch a seeded shuffle; every sample exactly once per
// epoch; an optional in-memory cache of decoded, resized uint8 images (decoded originals when
// random_resized_crop crops them: each sample's crop is random).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "tl/config.h"
#include "tl/dataset.h"

namespace tl {

// Which part of each global batch this process takes: data-parallel training splits every global
// batch of batch_size x world samples between the ranks, rank r taking positions [r*b, (r+1)*b).
struct Shard {
  int rank = 0;
  int world = 1;
};

struct LoaderOptions {
  int64_t batch_size = 32;  // per process
  Shard shard;
  bool shuffle = false;
  bool drop_last = false;
  uint64_t seed = 0;
  int workers = 0;           // 0 = all cores
  int prefetch_batches = 4;  // bounded queue length
  int64_t image_size = 224;
  ResizeMode resize = ResizeMode::Stretch;
  Interpolation interpolation = Interpolation::Area;
  int64_t max_pixels = 100000000;
  Normalization normalize;
  std::optional<AugmentConfig> augment;  // none: no augmentation
  bool cache_memory = false;
  int64_t cache_bytes = int64_t(2) << 30;
  bool fail_on_bad_image = false;  // a file that fails to decode: DataError instead of a warning
  bool pin_memory = false;         // page-locked batches for fast CUDA copies
};

// One step's samples for this process. N may be 0 (a rank's share of the last global batch, or a
// batch whose every image failed to decode): data-parallel ranks still take the step together.
struct Batch {
  torch::Tensor images;          // N x 3 x H x W float32, normalised
  torch::Tensor labels;          // N int64
  std::vector<int64_t> indices;  // positions in the loader's sample list
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// The order in which an epoch visits samples: identity, or a permutation from a portable PRNG
// seeded by (seed, epoch), the same on every machine and standard library.
std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle);

// An epoch's steps: the order cut into global batches of batch_size x world (the last one partial
// unless drop_last), and this process's share of each. The loader and the feature cache both use
// it, so cached and uncached epochs see the same batches.
class EpochPlan {
 public:
  EpochPlan(std::vector<int64_t> order, int64_t batch_size, Shard shard, bool drop_last);
  int64_t steps() const;
  // This process's positions in the order for step `step`: [first, last).
  std::pair<int64_t, int64_t> range(int64_t step) const;
  int64_t sample(int64_t position) const { return order_[static_cast<size_t>(position)]; }

 private:
  std::vector<int64_t> order_;
  int64_t batch_size_;
  Shard shard_;
  bool drop_last_;
};

// What the memory cache (data.cache "memory") holds.
struct CacheStats {
  int64_t images = 0, bytes = 0, budget = 0;
  int64_t refused = 0;  // images that did not fit in the budget
};

class Loader {
 public:
  Loader(std::vector<Sample> samples, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts producing the batches of `epoch` (shuffled from seed and epoch when shuffle is on).
  void start_epoch(int64_t epoch);
  // The next step's batch, or nothing at the epoch's end. Samples that fail to decode are left out
  // of their batch with a warning naming the file (or DataError when fail_on_bad_image).
  std::optional<Batch> next();

  int64_t size() const { return static_cast<int64_t>(samples_.size()); }
  int64_t batches_per_epoch() const;  // steps, the same on every rank
  CacheStats cache_stats() const;
  const std::vector<Sample>& samples() const { return samples_; }
  int64_t skipped() const { return skipped_.load(); }  // samples left out so far (decode failures)

 private:
  struct Impl;
  std::vector<Sample> samples_;
  LoaderOptions options_;
  std::atomic<int64_t> skipped_{0};
  std::unique_ptr<Impl> impl_;
};

}  // namespace tl
