#pragma once
// The transfer model: a TorchScript torchvision backbone (VGG, ResNet, MobileNet, EfficientNet or
// ConvNeXt, from scripts/export_backbone.py, torch.jit.script, or a tl-train checkpoint), its
// leading layers frozen, and a new dense head, all held in ONE torch::jit::Module so the trained
// model saves as a single TorchScript archive that Python runs with nothing but torch.jit.load.
//
// The computation is a list of stages: the backbone's feature stages (each layer of VGG's
// `features`, ResNet's conv1 .. layer4, each block of the others' `features`), the pooling, (for
// the "vgg" head) the pretrained fc1 and fc2 blocks, and the new dense head. Stages before the
// first trainable one form the frozen prefix: run without autograd, always in eval mode (so a
// frozen BatchNorm uses and keeps its running statistics), and deterministic, so its output can
// be cached (the "bottleneck features").
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/script.h>
#include <torch/torch.h>

#include "tl/backbone_family.h"
#include "tl/config.h"

namespace tl {

struct LayerSummary {
  std::string name;                   // torchvision name, e.g. "features.0", "fc1", "head.dense_0"
  std::string keras_name;             // e.g. "block1_conv1"; empty where Keras has no such layer
  std::string type;                   // Conv2d, MaxPool2d, Linear, Pool, ...
  std::vector<int64_t> output_shape;  // for a batch of 1
  int64_t params = 0;
  bool trainable = false;
};

struct ModelSummary {
  std::vector<LayerSummary> layers;
  int64_t trainable_params = 0, frozen_params = 0, total_params = 0;
  std::string to_text() const;
  Json to_json() const;
};

class TransferModel {
 public:
  // Loads model.backbone (an exported VGG or a tl-train checkpoint), attaches a fresh head with
  // `num_classes` outputs (weights: Xavier/Glorot uniform, biases zero, as Keras' Dense; seeded by
  // `seed`) and applies model.freeze. Throws ModelError with a one-line reason and fix.
  static TransferModel create(const ModelConfig& config, int64_t num_classes, uint64_t seed);

  // Rebuilds a trained model from a tl-train checkpoint (the head and freeze recorded in it).
  static TransferModel from_checkpoint(torch::jit::Module module, const Json& meta);

  // Freeze spec: "none", "all", an integer N (the first N stages with weights: VGG's conv layers,
  // ResNet's conv1, bn1, layer1, ...) or a stage name, torchvision's (features.5, layer3) or, for
  // VGG, Keras' (block3_conv3, block2_pool, fc1, ...): frozen through that stage inclusive.
  // `key` names the config key the spec came from in messages (ConfigError for a bad spec).
  void set_freeze(const std::string& spec, const std::string& key = "model.freeze");
  void check_freeze(const std::string& spec, const std::string& key) const;  // throws what set_freeze would
  const std::string& freeze_spec() const { return freeze_spec_; }

  // Full forward pass. In training mode the frozen prefix runs under NoGradGuard.
  torch::Tensor forward(const torch::Tensor& images);
  // The frozen prefix alone (no autograd) and the rest from its output.
  torch::Tensor forward_prefix(const torch::Tensor& images);
  torch::Tensor forward_from_prefix(const torch::Tensor& prefix_output);
  // Every stage before the head, without dropout: the features the head sees.
  torch::Tensor forward_backbone(const torch::Tensor& images);
  // Grad-CAM's forward pass (eval mode as forward() is in it): returns the logits, and in
  // `activation` the output of feature stage `layer` (torchvision or Keras name) as a leaf that
  // requires grad, so gradients reach it through frozen weights. ModelError for an unknown name.
  torch::Tensor forward_exposing(const torch::Tensor& images, const std::string& layer, torch::Tensor& activation);
  size_t explain_stage(const std::string& layer) const;  // the stage's index; ModelError listing the names
  // The last feature stage with a spatial output worth explaining: the backbone's last convolutional
  // block (VGG: the ReLU after the last conv, before the last max-pool).
  std::string default_explain_layer() const;
  size_t prefix_stages() const { return first_trainable_stage_; }
  bool prefix_is_whole_backbone() const;  // every pretrained layer frozen

  void train(bool on);  // trainable stages follow `on`; frozen ones stay in eval mode
  bool is_training() const { return training_; }
  void to(const torch::Device& device);
  torch::Device device() const;

  std::vector<torch::Tensor> head_parameters();
  std::vector<torch::Tensor> trainable_backbone_parameters();
  std::vector<torch::Tensor> all_parameters();
  std::vector<torch::Tensor> buffers();  // BatchNorm statistics and the like

  ModelSummary summary(int64_t input_size);

  // Saves the single TorchScript archive with `meta` as tl_meta.json inside, atomically.
  void save(const std::string& path, const Json& meta);
  torch::jit::Module& module() { return module_; }
  const Json& head_spec() const { return head_spec_; }
  int64_t num_classes() const { return num_classes_; }
  BackboneFamily family() const { return family_; }
  int64_t parameter_stage_count() const;  // the largest count model.freeze accepts

 private:
  struct Stage {
    enum Kind { Feature, Pool, Fc, Head } kind;
    std::string name, keras_name;
    int index = 0;               // fc number (1, 2)
    torch::jit::Module module;   // Feature and Fc stages
  };
  TransferModel() = default;
  torch::jit::Module backbone_root() const;  // where the stage names start: `backbone`, or the model (VGG)
  void build_stages();
  void define_methods();
  torch::Tensor run_stage(const Stage& stage, torch::Tensor x, bool training_stage);
  bool stage_trainable(const Stage& stage) const;
  std::pair<int64_t, int64_t> resolve_freeze(const std::string& spec, const std::string& key) const;  // stages, fcs
  std::string freeze_names_hint() const;
  std::vector<torch::Tensor> stage_parameters(const Stage& stage);
  void apply_training_flags();

  torch::jit::Module module_;
  BackboneFamily family_ = BackboneFamily::Vgg;
  Json head_spec_;  // {"pool", "hidden", "dropout", "vgg_dropout"}
  int64_t num_classes_ = 0;
  std::vector<Stage> stages_;
  std::vector<bool> frozen_;  // per stage
  size_t first_trainable_stage_ = 0;
  std::string freeze_spec_ = "none";
  bool training_ = false;
};

// Loads a TorchScript file (backbone or checkpoint) with clear ModelErrors for a missing file, a
// state_dict or pickled model, random bytes and truncated archives, each ending with `hint` (what
// to do). `meta_name`, if not empty, receives that extra file's text ("" when absent).
torch::jit::Module load_torchscript(const std::string& path, const torch::Device& device, const std::string& hint,
                                    const std::string& meta_name = "", std::string* meta_text = nullptr);

}  // namespace tl
