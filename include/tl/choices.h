#pragma once
// The enumerated config choices and their names as written in configs, checkpoints and logs. Each
// enum has one name table (choice_names); name_of and parse_choice work for all of them.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tl {

enum class Layout { Auto, Food11, Caltech101, Fruits360, Folder };
enum class ValFrom { Train, Test };
enum class BadImagePolicy { Skip, Fail };
enum class ConflictPolicy { Fail, Skip };
enum class DuplicatePolicy { Warn, Drop, Fail };
enum class ResizeMode { Stretch, ShorterCenterCrop };
enum class Interpolation { Area, Nearest, Bilinear, Bicubic };
enum class NormalizePreset { ImageNet, Caffe, Unit, Custom };
enum class FillMode { Nearest, Constant, Reflect, Wrap };
enum class HeadPool { Avg, Max, Flatten, Vgg };
enum class OptimizerName { Adam, AdamW, Sgd };
enum class ScheduleName { Constant, Step, Cosine, Plateau };
enum class Metric { Loss, Acc, ValLoss, ValAcc };
enum class MonitorMode { Auto, Min, Max };
enum class ClassWeights { None, Balanced, List };
enum class FeatureCacheMode { Auto, Off };
enum class Amp { Off, Fp16, Bf16 };
enum class DistBackend { Auto, Gloo, Nccl };

template <typename E>
using ChoiceNames = std::vector<std::pair<std::string, E>>;

const ChoiceNames<Layout>& choice_names(Layout*);
const ChoiceNames<ValFrom>& choice_names(ValFrom*);
const ChoiceNames<BadImagePolicy>& choice_names(BadImagePolicy*);
const ChoiceNames<ConflictPolicy>& choice_names(ConflictPolicy*);
const ChoiceNames<DuplicatePolicy>& choice_names(DuplicatePolicy*);
const ChoiceNames<ResizeMode>& choice_names(ResizeMode*);
const ChoiceNames<Interpolation>& choice_names(Interpolation*);
const ChoiceNames<NormalizePreset>& choice_names(NormalizePreset*);
const ChoiceNames<FillMode>& choice_names(FillMode*);
const ChoiceNames<HeadPool>& choice_names(HeadPool*);
const ChoiceNames<OptimizerName>& choice_names(OptimizerName*);
const ChoiceNames<ScheduleName>& choice_names(ScheduleName*);
const ChoiceNames<Metric>& choice_names(Metric*);
const ChoiceNames<MonitorMode>& choice_names(MonitorMode*);
const ChoiceNames<ClassWeights>& choice_names(ClassWeights*);
const ChoiceNames<FeatureCacheMode>& choice_names(FeatureCacheMode*);
const ChoiceNames<Amp>& choice_names(Amp*);
const ChoiceNames<DistBackend>& choice_names(DistBackend*);

template <typename E>
const ChoiceNames<E>& names_of() {
  return choice_names(static_cast<E*>(nullptr));
}

template <typename E>
std::string name_of(E value) {
  for (const auto& [name, e] : names_of<E>())
    if (e == value) return name;
  return "?";
}

template <typename E>
std::optional<E> parse_choice(const std::string& name) {
  for (const auto& [n, e] : names_of<E>())
    if (n == name) return e;
  return std::nullopt;
}

// "a, b, c": the names a message offers.
template <typename E>
std::string choice_list() {
  std::string out;
  for (const auto& [name, e] : names_of<E>()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// Accuracies are maximised, losses minimised (MonitorMode::Auto).
inline bool metric_maximizes(Metric m, MonitorMode mode = MonitorMode::Auto) {
  if (mode != MonitorMode::Auto) return mode == MonitorMode::Max;
  return m == Metric::Acc || m == Metric::ValAcc;
}
inline bool is_validation_metric(Metric m) { return m == Metric::ValLoss || m == Metric::ValAcc; }
inline Metric training_counterpart(Metric m) {
  return m == Metric::ValLoss ? Metric::Loss : m == Metric::ValAcc ? Metric::Acc : m;
}

}  // namespace tl
