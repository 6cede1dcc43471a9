#!/usr/bin/env bash
# Writes the tiny random backbones the tests use (tests/fixtures/backbones), so that no test needs
# Python: VGG16 and VGG19 conv bases at width / 16, VGG16 with its classifier at width / 64, and
# ResNet-18, MobileNetV3-Large, EfficientNet-B0 and ConvNeXt-Tiny at width / 16.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/backbones
mkdir -p "$out"
export_backbone() { /usr/bin/python3 scripts/export_backbone.py --weights random --seed 0 "$@"; }
export_backbone --arch vgg16 --width-div 16 --features-only --out "$out/vgg16_w16_features.pt"
export_backbone --arch vgg19 --width-div 16 --features-only --out "$out/vgg19_w16_features.pt"
export_backbone --arch vgg16 --width-div 64 --out "$out/vgg16_w64.pt"
# One narrow network of each other family, every layer and block kept, channels / 16.
for arch in resnet18 mobilenet_v3_large efficientnet_b0 convnext_tiny; do
  export_backbone --arch "$arch" --width-div 16 --out "$out/${arch}_w16.pt"
done
