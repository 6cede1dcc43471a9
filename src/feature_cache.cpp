#include "tl/feature_cache.h"

namespace tl {

FeatureCache::FeatureCache(TransferModel& model, const std::vector<Sample>& samples, const LoaderOptions& base,
                           const torch::Device& device) {
  LoaderOptions options = base;
  options.shuffle = false;
  options.augment.reset();
  options.drop_last = false;
  options.shard = Shard{};  // every sample: any rank may draw any of them later
  Loader loader(samples, options);
  loader.start_epoch(0);
  row_of_.assign(samples.size(), -1);
  std::vector<torch::Tensor> parts, labels;
  int64_t row = 0;
  model.train(false);
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    parts.push_back(model.forward_prefix(batch->images.to(device)).cpu());
    labels.push_back(batch->labels);
    for (int64_t index : batch->indices) row_of_[static_cast<size_t>(index)] = row++;
  }
  if (!parts.empty()) {
    features_ = torch::cat(parts);
    labels_ = torch::cat(labels);
  }
}

int64_t FeatureCache::bytes_needed(TransferModel& model, int64_t input_size, int64_t samples,
                                   const torch::Device& device) {
  const torch::Tensor probe = model.forward_prefix(torch::zeros({1, 3, input_size, input_size}, device));
  return probe.numel() * static_cast<int64_t>(probe.element_size()) * samples;
}

FeatureCache::Batches FeatureCache::epoch(const LoaderOptions& options, int64_t epoch) const {
  return Batches(*this, EpochPlan(epoch_order(size(), options.seed, epoch, options.shuffle), options.batch_size,
                                  options.shard, options.drop_last));
}

std::optional<Batch> FeatureCache::Batches::next() {
  if (step_ >= plan_.steps()) return std::nullopt;
  const auto [first, last] = plan_.range(step_++);
  Batch batch;
  std::vector<int64_t> rows;
  for (int64_t pos = first; pos < last; ++pos) {
    const int64_t sample = plan_.sample(pos);
    const int64_t row = cache_.row_of_[static_cast<size_t>(sample)];
    if (row < 0) continue;
    rows.push_back(row);
    batch.indices.push_back(sample);
  }
  const torch::Tensor index = torch::tensor(rows, torch::kLong);
  batch.images = rows.empty() ? torch::empty({0}) : cache_.features_.index_select(0, index);
  batch.labels = rows.empty() ? torch::empty({0}, torch::kLong) : cache_.labels_.index_select(0, index);
  return batch;
}

}  // namespace tl
