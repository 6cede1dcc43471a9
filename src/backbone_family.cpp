#include "tl/backbone_family.h"

#include <algorithm>
#include <sstream>

#include "tl/errors.h"

namespace tl {
namespace {

const std::vector<std::string> kResNetStages{"conv1",  "bn1",    "relu",   "maxpool",
                                             "layer1", "layer2", "layer3", "layer4"};

bool has_all(const torch::jit::Module& m, const std::vector<std::string>& names) {
  return std::all_of(names.begin(), names.end(), [&](const std::string& n) { return m.hasattr(n); });
}

std::vector<torch::jit::Module> children_of(const torch::jit::Module& m) {
  std::vector<torch::jit::Module> out;
  for (const auto& child : m.named_children()) out.push_back(child.value);
  return out;
}

bool is_plain_vgg_layer(const torch::jit::Module& m) {
  const std::string type = module_type_name(m);
  return type == "Conv2d" || type == "BatchNorm2d" || type == "ReLU" || type == "MaxPool2d";  // vgg16_bn too
}

// What the error message shows of an unrecognised model: its top-level submodules with their types.
std::string describe(const torch::jit::Module& m) {
  std::ostringstream out;
  out << module_type_name(m) << " with ";
  size_t n = 0;
  for (const auto& child : m.named_children()) out << (n++ ? ", " : "") << child.name << " (" << module_type_name(child.value) << ")";
  if (n == 0) out << "no submodules";
  return out.str();
}

}  // namespace

std::string module_type_name(const torch::jit::Module& module) {
  auto name = module.type()->name();
  return name ? name->name() : "Module";
}

std::string family_name(BackboneFamily family) {
  switch (family) {
    case BackboneFamily::Vgg: return "vgg";
    case BackboneFamily::ResNet: return "resnet";
    case BackboneFamily::MobileNet: return "mobilenet";
    case BackboneFamily::EfficientNet: return "efficientnet";
    case BackboneFamily::ConvNeXt: return "convnext";
  }
  return "unknown";
}

BackboneFamily recognise_family(const torch::jit::Module& model, const std::string& path) {
  if (has_all(model, kResNetStages) && model.hasattr("fc")) return BackboneFamily::ResNet;
  if (model.hasattr("features")) {
    const auto stages = children_of(model.attr("features").toModule());
    if (!stages.empty() && std::all_of(stages.begin(), stages.end(), is_plain_vgg_layer)) return BackboneFamily::Vgg;
    if (stages.size() > 1) {
      const std::string second = module_type_name(stages[1]);
      if (second == "InvertedResidual") return BackboneFamily::MobileNet;
      const auto blocks = children_of(stages[1]);
      const std::string block = blocks.empty() ? "" : module_type_name(blocks[0]);
      if (block == "MBConv" || block == "FusedMBConv") return BackboneFamily::EfficientNet;
      if (block == "CNBlock") return BackboneFamily::ConvNeXt;
    }
  }
  throw ModelError(path + ": not a backbone tl-train knows (found " + describe(model) +
                   "); supported: torchvision's VGG, ResNet, MobileNetV2/V3, EfficientNet and ConvNeXt, scripted with "
                   "torch.jit.script or exported with scripts/export_backbone.py");
}

std::vector<std::string> feature_stage_names(const torch::jit::Module& model, BackboneFamily family) {
  if (family == BackboneFamily::ResNet) return kResNetStages;
  std::vector<std::string> names;
  for (const auto& child : model.attr("features").toModule().named_children()) names.push_back("features." + child.name);
  return names;
}

torch::jit::Module submodule_at(const torch::jit::Module& model, const std::string& dotted_name) {
  torch::jit::Module m = model;
  std::istringstream parts(dotted_name);
  for (std::string part; std::getline(parts, part, '.');) m = m.attr(part).toModule();
  return m;
}

}  // namespace tl
