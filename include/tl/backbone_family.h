#pragma once
// Which torchvision classifier a TorchScript backbone is, recognised from its module structure
// (submodule names and class names), and the order in which its feature stages run.
#include <string>
#include <vector>

#include <torch/script.h>

namespace tl {

enum class BackboneFamily { Vgg, ResNet, MobileNet, EfficientNet, ConvNeXt };

std::string family_name(BackboneFamily family);  // "vgg", "resnet", ...

// The family of a scripted torchvision model (torch.jit.script(torchvision.models.X()) or
// scripts/export_backbone.py). Throws ModelError naming `path`, what was found and what is supported.
BackboneFamily recognise_family(const torch::jit::Module& model, const std::string& path);

// The feature stages in forward order, by torchvision name: "features.0", "features.1", ... for VGG,
// MobileNet, EfficientNet and ConvNeXt; "conv1", "bn1", "relu", "maxpool", "layer1".."layer4" for ResNet.
// The classifier (and the pooling before it) is not a stage: tl-train's head replaces it.
std::vector<std::string> feature_stage_names(const torch::jit::Module& model, BackboneFamily family);

// The submodule at a dotted torchvision name ("layer1", "features.3").
torch::jit::Module submodule_at(const torch::jit::Module& model, const std::string& dotted_name);

std::string module_type_name(const torch::jit::Module& module);  // "Conv2d", "InvertedResidual", ...

}  // namespace tl
