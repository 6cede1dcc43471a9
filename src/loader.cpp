#include "tl/loader.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include "tl/augment.h"
#include "tl/errors.h"
#include "tl/image.h"

namespace tl {

// Workers claim batch indices in order and put the results in `ready`; the consumer takes them in
// index order, so the output does not depend on the number of workers or their timing.
struct Loader::Impl {
  // A finished batch: the batch, nothing (every sample failed), or the error to rethrow in next().
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  const std::vector<Sample>& samples;
  const LoaderOptions& options;
  std::atomic<int64_t>& skipped;
  bool pinned = false;

  std::mutex mutex;
  std::condition_variable ready_cv;  // a slot arrived (the consumer waits)
  std::condition_variable space_cv;  // the consumer took a slot, or stop was set (workers wait)
  bool running = false;              // an epoch was started
  bool stop = false;
  int64_t epoch = 0;
  std::optional<EpochPlan> plan;  // the epoch's steps and this process's share of each
  int64_t num_batches = 0;
  int64_t window = 1;        // batches claimed ahead of the consumer, at most
  int64_t next_claim = 0;    // the next batch index a worker takes
  int64_t next_consume = 0;  // the next batch index next() returns
  std::map<int64_t, Slot> ready;
  std::vector<std::thread> threads;

  std::mutex cache_mutex;  // guards cache, cache_used and warned
  std::unordered_map<int64_t, cv::Mat> cache;
  int64_t cache_used = 0;
  std::set<int64_t> cache_refused;  // samples that did not fit in the budget
  std::set<int64_t> warned;         // bad files already named in a warning

  Impl(const std::vector<Sample>& s, const LoaderOptions& o, std::atomic<int64_t>& k)
      : samples(s), options(o), skipped(k), pinned(o.pin_memory && torch::cuda::is_available()) {}

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    space_cv.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
  }

  bool crops() const { return options.augment && options.augment->crop_enabled(); }

  // What a sample's pixels start from: the decoded original when random_resized_crop crops it
  // (torchvision crops the original, not the resized image), else the resized image.
  cv::Mat decode(int64_t index) const {
    const std::string& path = samples[size_t(index)].path;
    if (!crops())
      return load_image(path, options.image_size, options.resize, options.max_pixels, options.interpolation);
    return decode_image(path, options.max_pixels,
                        crop_decode_target(options.image_size, *options.augment, options.interpolation));
  }

  // decode(index), from the cache when there. Throws ImageError.
  cv::Mat image_of(int64_t index) {
    if (options.cache_memory) {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = cache.find(index);
      if (it != cache.end()) return it->second;
    }
    cv::Mat image = decode(index);
    if (options.cache_memory) {
      const int64_t bytes = int64_t(image.total() * image.elemSize());
      std::lock_guard<std::mutex> lock(cache_mutex);
      // Once the budget is reached the cache stops growing: the images cached first stay.
      if (cache_used + bytes > options.cache_bytes)
        cache_refused.insert(index);
      else if (cache.emplace(index, image).second)
        cache_used += bytes;
    }
    return image;
  }

  void on_bad_image(int64_t index, const ImageError& e) {
    const std::string& path = samples[size_t(index)].path;
    if (options.fail_on_bad_image)
      throw DataError("cannot decode image '" + path + "': " + e.what() +
                      "; set data.on_bad_image to \"skip\" to skip such files");
    ++skipped;
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (warned.insert(index).second) spdlog::warn("skipping '{}': {}", path, e.what());
  }

  // Loads, augments and normalises batch `b` straight into its tensor (0 rows when this process has
  // no share of the step or every sample failed).
  Batch make_batch(int64_t b) {
    const auto [begin, end] = plan->range(b);
    const int64_t size = options.image_size, floats = 3 * size * size;
    torch::Tensor images = torch::empty({end - begin, 3, size, size}, torch::TensorOptions().pinned_memory(pinned));
    Batch batch;
    std::vector<int64_t> labels;
    for (int64_t pos = begin; pos < end; ++pos) {
      const int64_t index = plan->sample(pos);
      cv::Mat image;
      try {
        image = image_of(index);
      } catch (const ImageError& e) {
        on_bad_image(index, e);
        continue;
      }
      if (options.augment) {
        std::mt19937_64 rng(sample_seed(options.seed, epoch, index));
        if (crops()) image = random_resized_crop(image, size, *options.augment, options.interpolation, rng);
        image = augment_image(image, *options.augment, rng);
      }
      write_normalized(image, options.normalize, images.data_ptr<float>() + int64_t(batch.indices.size()) * floats);
      batch.indices.push_back(index);
      labels.push_back(samples[size_t(index)].label);
    }
    // Allocated for the full batch; keep only the rows that were filled.
    batch.images = images.narrow(0, 0, int64_t(batch.indices.size()));
    batch.labels = torch::tensor(labels, torch::kInt64);
    return batch;
  }

  void work() {
    for (;;) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(mutex);
        space_cv.wait(lock, [&] { return stop || next_claim < next_consume + window; });
        if (stop || next_claim >= num_batches) return;
        b = next_claim++;
      }
      Slot slot;
      try {
        slot.batch = make_batch(b);
      } catch (...) {  // an exception must not escape a thread (std::terminate)
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(b, std::move(slot));
      }
      ready_cv.notify_all();
    }
  }
};

std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle) {
  // (seed, epoch) -> the seed of a portable shuffle: the same order on every machine.
  if (shuffle) return seeded_permutation(size, seed ^ (0x9E3779B97F4A7C15ULL * uint64_t(epoch + 1)));
  std::vector<int64_t> order(static_cast<size_t>(size));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  return order;
}

Loader::Loader(std::vector<Sample> samples, LoaderOptions options)
    : samples_(std::move(samples)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>(samples_, options_, skipped_)) {
  if (options_.batch_size < 1) throw std::invalid_argument("Loader: batch_size must be >= 1");
}

Loader::~Loader() { impl_->stop_workers(); }

namespace {
int64_t count_steps(int64_t samples, int64_t global_batch, bool drop_last) {
  return drop_last ? samples / global_batch : (samples + global_batch - 1) / global_batch;
}
}  // namespace

EpochPlan::EpochPlan(std::vector<int64_t> order, int64_t batch_size, Shard shard, bool drop_last)
    : order_(std::move(order)), batch_size_(batch_size), shard_(shard), drop_last_(drop_last) {}

int64_t EpochPlan::steps() const {
  return count_steps(static_cast<int64_t>(order_.size()), batch_size_ * shard_.world, drop_last_);
}

std::pair<int64_t, int64_t> EpochPlan::range(int64_t step) const {
  const int64_t n = static_cast<int64_t>(order_.size());
  const int64_t first = std::min(n, step * batch_size_ * shard_.world + shard_.rank * batch_size_);
  return {first, std::min(n, first + batch_size_)};
}

int64_t Loader::batches_per_epoch() const {
  return count_steps(size(), options_.batch_size * options_.shard.world, options_.drop_last);
}

CacheStats Loader::cache_stats() const {
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  return {static_cast<int64_t>(impl_->cache.size()), impl_->cache_used, options_.cache_bytes,
          static_cast<int64_t>(impl_->cache_refused.size())};
}

void Loader::start_epoch(int64_t epoch) {
  Impl& im = *impl_;
  im.stop_workers();  // an unfinished previous epoch
  im.stop = false;
  im.running = true;
  im.epoch = epoch;
  im.ready.clear();
  im.next_claim = im.next_consume = 0;
  im.num_batches = batches_per_epoch();
  im.plan.emplace(epoch_order(size(), options_.seed, epoch, options_.shuffle), options_.batch_size, options_.shard,
                  options_.drop_last);
  const int64_t hardware = std::max(1u, std::thread::hardware_concurrency());
  const int64_t workers = std::min<int64_t>(options_.workers > 0 ? options_.workers : hardware, im.num_batches);
  // More workers than queue slots would sit idle, so the window is at least the worker count.
  im.window = std::max<int64_t>({1, options_.prefetch_batches, workers});
  for (int64_t t = 0; t < workers; ++t) im.threads.emplace_back([&im] { im.work(); });
}

std::optional<Batch> Loader::next() {
  Impl& im = *impl_;
  if (!im.running) throw std::logic_error("Loader::next() called before start_epoch()");
  for (;;) {
    Impl::Slot slot;
    {
      std::unique_lock<std::mutex> lock(im.mutex);
      if (im.next_consume >= im.num_batches) return std::nullopt;
      im.ready_cv.wait(lock, [&] { return im.ready.count(im.next_consume) > 0; });
      auto it = im.ready.find(im.next_consume);
      slot = std::move(it->second);
      im.ready.erase(it);
      ++im.next_consume;
    }
    im.space_cv.notify_all();
    if (slot.error) {
      // The epoch ends at its first error: later calls return nothing until the next start_epoch.
      im.stop_workers();
      im.next_consume = im.num_batches;
      std::rethrow_exception(slot.error);
    }
    if (slot.batch) return std::move(slot.batch);
  }
}

}  // namespace tl
