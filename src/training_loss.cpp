#include "tl/training_loss.h"

#include "tl/errors.h"

namespace tl {

TrainingLoss::TrainingLoss(double label_smoothing, torch::Tensor class_weights)
    : label_smoothing_(label_smoothing), weights_(std::move(class_weights)) {}

LossTerms TrainingLoss::operator()(const torch::Tensor& logits, const torch::Tensor& labels) const {
  auto options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(label_smoothing_).reduction(torch::kSum);
  torch::Tensor weights = weights_.defined() ? weights_.to(logits.device()) : weights_;
  if (weights.defined()) options.weight(weights);
  LossTerms terms;
  terms.sum = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), labels, options);
  terms.denominator = weights.defined() ? weights.index_select(0, labels).sum().item<double>() : double(labels.size(0));
  return terms;
}

torch::Tensor class_weight_tensor(const TrainConfig& t, const std::vector<Sample>& train_split, size_t k) {
  if (t.class_weights_mode == ClassWeights::List) {
    if (t.class_weights.size() != k)
      throw ConfigError("train.class_weights has " + std::to_string(t.class_weights.size()) +
                        " weights but the dataset has " + std::to_string(k) + " classes; give one weight per class");
    return torch::tensor(t.class_weights, torch::kFloat32);
  }
  if (t.class_weights_mode != ClassWeights::Balanced) return {};
  std::vector<double> counts(k, 0);
  for (const auto& s : train_split) counts[static_cast<size_t>(s.label)] += 1;
  std::vector<double> w(k);
  for (size_t c = 0; c < k; ++c) w[c] = counts[c] > 0 ? double(train_split.size()) / (double(k) * counts[c]) : 0.0;
  return torch::tensor(w, torch::kFloat32);
}

}  // namespace tl
