#pragma once
// Scoring a model on a stream of batches. The `evaluate` command and validation during training
// both call evaluate(), so the numbers cannot drift between them.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tl/json.h"
#include "tl/loader.h"
#include "tl/metrics.h"

namespace tl {

struct Prediction {
  int64_t sample = 0;  // index into the evaluated sample list
  int64_t truth = 0, predicted = 0;
  double probability = 0;  // of the predicted class
};

struct EvalResult {
  double loss = 0;  // mean cross-entropy with the training's label smoothing (no class weights)
  int64_t correct = 0, total = 0;
  double accuracy = 0;
  double top5 = -1;  // top-5 accuracy; -1 when there are fewer than 5 classes
  ConfusionMatrix confusion;
  std::vector<Prediction> predictions;
  explicit EvalResult(std::vector<std::string> classes) : confusion(std::move(classes)) {}
};

using BatchSource = std::function<std::optional<Batch>()>;
using ForwardFn = std::function<torch::Tensor(const torch::Tensor&)>;

// Runs every batch through `forward` without gradients (the caller puts the model in eval mode)
// and accumulates loss, accuracy, top-5 and the confusion matrix. The loss is the training loss
// without class weights: label smoothing included, as Keras scores validation with the same loss.
EvalResult evaluate(const BatchSource& next_batch, const ForwardFn& forward, const std::vector<std::string>& classes,
                    const torch::Device& device, double label_smoothing = 0);

// {"accuracy", "correct", "total", "top5", "loss", "classes", "confusion_matrix", "per_class": [...], "macro_avg",
// "weighted_avg"}
Json eval_to_json(const EvalResult& result);

}  // namespace tl
