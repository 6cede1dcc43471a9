#include "tl/choices.h"

namespace tl {

// One table per enum: the names configs, checkpoints and logs use.
const ChoiceNames<Layout>& choice_names(Layout*) {
  static const ChoiceNames<Layout> names{{"auto", Layout::Auto},
                                         {"food11", Layout::Food11},
                                         {"caltech101", Layout::Caltech101},
                                         {"fruits360", Layout::Fruits360},
                                         {"folder", Layout::Folder}};
  return names;
}

const ChoiceNames<ValFrom>& choice_names(ValFrom*) {
  static const ChoiceNames<ValFrom> names{{"train", ValFrom::Train}, {"test", ValFrom::Test}};
  return names;
}

const ChoiceNames<BadImagePolicy>& choice_names(BadImagePolicy*) {
  static const ChoiceNames<BadImagePolicy> names{{"skip", BadImagePolicy::Skip}, {"fail", BadImagePolicy::Fail}};
  return names;
}

const ChoiceNames<ConflictPolicy>& choice_names(ConflictPolicy*) {
  static const ChoiceNames<ConflictPolicy> names{{"fail", ConflictPolicy::Fail}, {"skip", ConflictPolicy::Skip}};
  return names;
}

const ChoiceNames<DuplicatePolicy>& choice_names(DuplicatePolicy*) {
  static const ChoiceNames<DuplicatePolicy> names{
      {"warn", DuplicatePolicy::Warn}, {"drop", DuplicatePolicy::Drop}, {"fail", DuplicatePolicy::Fail}};
  return names;
}

const ChoiceNames<ResizeMode>& choice_names(ResizeMode*) {
  static const ChoiceNames<ResizeMode> names{{"stretch", ResizeMode::Stretch},
                                             {"shorter_center_crop", ResizeMode::ShorterCenterCrop}};
  return names;
}

const ChoiceNames<Interpolation>& choice_names(Interpolation*) {
  static const ChoiceNames<Interpolation> names{{"area", Interpolation::Area},
                                                {"nearest", Interpolation::Nearest},
                                                {"bilinear", Interpolation::Bilinear},
                                                {"bicubic", Interpolation::Bicubic}};
  return names;
}

const ChoiceNames<NormalizePreset>& choice_names(NormalizePreset*) {
  static const ChoiceNames<NormalizePreset> names{{"imagenet", NormalizePreset::ImageNet},
                                                  {"caffe", NormalizePreset::Caffe},
                                                  {"unit", NormalizePreset::Unit},
                                                  {"custom", NormalizePreset::Custom}};
  return names;
}

const ChoiceNames<FillMode>& choice_names(FillMode*) {
  static const ChoiceNames<FillMode> names{{"nearest", FillMode::Nearest},
                                           {"constant", FillMode::Constant},
                                           {"reflect", FillMode::Reflect},
                                           {"wrap", FillMode::Wrap}};
  return names;
}

const ChoiceNames<HeadPool>& choice_names(HeadPool*) {
  static const ChoiceNames<HeadPool> names{
      {"avg", HeadPool::Avg}, {"max", HeadPool::Max}, {"flatten", HeadPool::Flatten}, {"vgg", HeadPool::Vgg}};
  return names;
}

const ChoiceNames<OptimizerName>& choice_names(OptimizerName*) {
  static const ChoiceNames<OptimizerName> names{
      {"adam", OptimizerName::Adam}, {"adamw", OptimizerName::AdamW}, {"sgd", OptimizerName::Sgd}};
  return names;
}

const ChoiceNames<ScheduleName>& choice_names(ScheduleName*) {
  static const ChoiceNames<ScheduleName> names{{"constant", ScheduleName::Constant},
                                               {"step", ScheduleName::Step},
                                               {"cosine", ScheduleName::Cosine},
                                               {"plateau", ScheduleName::Plateau}};
  return names;
}

const ChoiceNames<Metric>& choice_names(Metric*) {
  static const ChoiceNames<Metric> names{
      {"val_loss", Metric::ValLoss}, {"val_acc", Metric::ValAcc}, {"loss", Metric::Loss}, {"acc", Metric::Acc}};
  return names;
}

const ChoiceNames<MonitorMode>& choice_names(MonitorMode*) {
  static const ChoiceNames<MonitorMode> names{
      {"auto", MonitorMode::Auto}, {"min", MonitorMode::Min}, {"max", MonitorMode::Max}};
  return names;
}

const ChoiceNames<ClassWeights>& choice_names(ClassWeights*) {
  static const ChoiceNames<ClassWeights> names{
      {"none", ClassWeights::None}, {"balanced", ClassWeights::Balanced}, {"list", ClassWeights::List}};
  return names;
}

const ChoiceNames<FeatureCacheMode>& choice_names(FeatureCacheMode*) {
  static const ChoiceNames<FeatureCacheMode> names{{"auto", FeatureCacheMode::Auto}, {"off", FeatureCacheMode::Off}};
  return names;
}

const ChoiceNames<DistBackend>& choice_names(DistBackend*) {
  static const ChoiceNames<DistBackend> names{
      {"auto", DistBackend::Auto}, {"gloo", DistBackend::Gloo}, {"nccl", DistBackend::Nccl}};
  return names;
}

const ChoiceNames<Amp>& choice_names(Amp*) {
  static const ChoiceNames<Amp> names{{"off", Amp::Off}, {"fp16", Amp::Fp16}, {"bf16", Amp::Bf16}};
  return names;
}

}  // namespace tl
