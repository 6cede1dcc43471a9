#include "tl/evaluate.h"

namespace tl {

EvalResult evaluate(const BatchSource& next_batch, const ForwardFn& forward, const std::vector<std::string>& classes,
                    const torch::Device& device, double label_smoothing) {
  torch::NoGradGuard no_grad;
  EvalResult result(classes);
  const int64_t k = std::min<int64_t>(5, static_cast<int64_t>(classes.size()));
  double loss_sum = 0;
  int64_t top5_hits = 0;
  const auto loss_options =
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).label_smoothing(label_smoothing);
  while (auto batch = next_batch()) {
    if (batch->size() == 0) continue;
    torch::Tensor labels = batch->labels.to(device, /*non_blocking=*/true);
    torch::Tensor logits = forward(batch->images.to(device, /*non_blocking=*/true)).to(torch::kFloat32);
    loss_sum += torch::nn::functional::cross_entropy(logits, labels, loss_options).item<double>();
    torch::Tensor probs = torch::softmax(logits, 1);
    auto [top_probs, top_index] = probs.topk(k, 1);
    top5_hits += (top_index == labels.unsqueeze(1)).any(1).sum().item<int64_t>();
    torch::Tensor best_index = top_index.select(1, 0).cpu(), best_prob = top_probs.select(1, 0).cpu();
    torch::Tensor truth = labels.cpu();
    for (int64_t i = 0; i < truth.size(0); ++i) {
      Prediction p{batch->indices.at(static_cast<size_t>(i)), truth[i].item<int64_t>(), best_index[i].item<int64_t>(),
                   best_prob[i].item<double>()};
      result.confusion.add(p.truth, p.predicted);
      result.predictions.push_back(p);
    }
  }
  result.total = result.confusion.total();
  result.correct = result.confusion.correct();
  result.accuracy = result.confusion.accuracy();
  result.loss = result.total ? loss_sum / static_cast<double>(result.total) : 0;
  if (classes.size() >= 5) result.top5 = result.total ? static_cast<double>(top5_hits) / result.total : 0;
  return result;
}

Json eval_to_json(const EvalResult& result) {
  const ConfusionMatrix& cm = result.confusion;
  const int64_t k = static_cast<int64_t>(cm.classes().size());
  Json matrix = Json::array();
  for (int64_t t = 0; t < k; ++t) {
    Json row = Json::array();
    for (int64_t p = 0; p < k; ++p) row.push_back(cm.at(t, p));
    matrix.push_back(row);
  }
  auto metrics = [](const ClassMetrics& m) {
    return Json{
        {"name", m.name}, {"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1}, {"support", m.support}};
  };
  Json per_class = Json::array();
  for (const auto& m : cm.per_class()) per_class.push_back(metrics(m));
  return Json{{"accuracy", result.accuracy},
              {"correct", result.correct},
              {"total", result.total},
              {"top5", result.top5 < 0 ? Json(nullptr) : Json(result.top5)},
              {"loss", result.loss},
              {"classes", cm.classes()},
              {"confusion_matrix", matrix},
              {"per_class", per_class},
              {"macro_avg", metrics(cm.macro_average())},
              {"weighted_avg", metrics(cm.weighted_average())}};
}

}  // namespace tl
