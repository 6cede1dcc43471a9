#!/usr/bin/env bash
# Writes the tiny random backbones the tests use (tests/fixtures/backbones), so that no test needs
# Python: VGG16 and VGG19 conv bases at width / 16, and VGG16 with its classifier at width / 64.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/backbones
mkdir -p "$out"
export_backbone() { /usr/bin/python3 scripts/export_vgg16.py --weights random --seed 0 "$@"; }
export_backbone --arch vgg16 --width-div 16 --features-only --out "$out/vgg16_w16_features.pt"
export_backbone --arch vgg19 --width-div 16 --features-only --out "$out/vgg19_w16_features.pt"
export_backbone --arch vgg16 --width-div 64 --out "$out/vgg16_w64.pt"
