#!/usr/bin/env python3
"""Export a torchvision classifier as a TorchScript file for tl-train.

Supported: VGG16/19, ResNet-18/34/50/101, MobileNetV3 small/large, EfficientNet-B0..B3 and
ConvNeXt-Tiny/Small, from torchvision 0.14. The file is `torch.jit.script(model)` of torchvision's
own model in eval mode, so tl-train reads it exactly as it reads a model the user scripted
themselves: it recognises the family from the module structure and relies on torchvision's
submodule names (`features`, `layer1`..`layer4`, ...). Metadata about how the file was made is
stored as the extra file `tl_backbone.json` inside the archive.

Examples:
  scripts/export_backbone.py                                   # ImageNet VGG16 -> models/vgg16.pt
  scripts/export_backbone.py --arch resnet50                   # ImageNet ResNet-50 -> models/resnet50.pt
  scripts/export_backbone.py --arch vgg16 --features-only      # VGG conv base only (~58 MB)
  scripts/export_backbone.py --arch efficientnet_b0 --weights random --width-div 16 --out /tmp/tiny.pt
"""

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    # TorchScript emits each module's __constants__ (a Python set of strings) in
    # iteration order, which follows the per-process string hash seed. Re-run with
    # a fixed seed (before the slow torch import) so the same arguments give
    # byte-identical files.
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

try:
    import torch
    import torch.nn as nn
    import torchvision
    from torchvision.models import convnext as tv_convnext
    from torchvision.models import efficientnet as tv_efficientnet
    from torchvision.models import mobilenetv3 as tv_mobilenet
    from torchvision.models import resnet as tv_resnet
    from torchvision.models import vgg as tv_vgg
except ImportError as e:
    # Common on Debian when `python3` is a pyenv/venv interpreter without the apt torch.
    sys.exit(f"export_backbone.py: {e}; install python3-torchvision or run with /usr/bin/python3")

PROG = os.path.basename(sys.argv[0]) if __name__ == "__main__" else "export_backbone.py"
VGG_CFG_KEYS = {"vgg16": "D", "vgg19": "E"}  # torchvision's names for the layer configs
RESNET_BLOCKS = {"resnet18": (tv_resnet.BasicBlock, [2, 2, 2, 2]),
                 "resnet34": (tv_resnet.BasicBlock, [3, 4, 6, 3]),
                 "resnet50": (tv_resnet.Bottleneck, [3, 4, 6, 3]),
                 "resnet101": (tv_resnet.Bottleneck, [3, 4, 23, 3])}
CONVNEXT_STAGES = {"convnext_tiny": ([96, 192, 384, 768], [3, 3, 9, 3], 0.1),
                   "convnext_small": ([96, 192, 384, 768], [3, 3, 27, 3], 0.4)}
EFFICIENTNETS = {"efficientnet_b0": (1.0, 1.0, 0.2), "efficientnet_b1": (1.0, 1.1, 0.2),  # width, depth, dropout
                 "efficientnet_b2": (1.1, 1.2, 0.3), "efficientnet_b3": (1.2, 1.4, 0.3)}
MOBILENETS = ["mobilenet_v3_small", "mobilenet_v3_large"]
ARCHS = sorted(list(VGG_CFG_KEYS) + list(RESNET_BLOCKS) + list(CONVNEXT_STAGES) +
               list(EFFICIENTNETS) + MOBILENETS)
BASE_HIDDEN = 4096
NUM_CLASSES = 1000
DOWNLOAD_TIMEOUT_S = 30  # per socket operation, so an offline machine fails fast


class ExportError(Exception):
    """A user-facing failure: reported as one line on stderr, exit status 1."""


class VGGFeatures(nn.Module):
    """Backbone-only VGG: keeps `features` and `avgpool`, returns the raw feature map."""

    def __init__(self, features: nn.Sequential, avgpool: nn.Module):
        super().__init__()
        self.features = features
        self.avgpool = avgpool  # kept so the C++ side can apply it if it wants to

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog=PROG, description="Export a torchvision classifier to TorchScript for tl-train.")
    p.add_argument("--arch", choices=ARCHS, default="vgg16")
    p.add_argument("--weights", choices=["imagenet", "random"], default="imagenet",
                   help="ImageNet weights (downloaded once into the torch hub cache) "
                        "or seeded random initialisation (offline)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for --weights random (output is bit-reproducible)")
    p.add_argument("--features-only", action="store_true",
                   help="VGG only: drop the 120M-parameter classifier; forward returns the feature map")
    p.add_argument("--width-div", type=int, default=1, metavar="N",
                   help="divide every channel width by N, keeping every layer and block "
                        "(tiny test networks; --weights random only)")
    p.add_argument("--out", help="output path (default models/<arch>[_features].pt)")
    args = p.parse_args(argv)

    if args.width_div < 1 or 64 % args.width_div != 0:
        p.error("--width-div must divide 64 (1, 2, 4, 8, 16, 32 or 64)")
    if args.width_div != 1 and args.weights != "random":
        p.error("--width-div needs --weights random (ImageNet weights only fit the full width)")
    if args.features_only and args.arch not in VGG_CFG_KEYS:
        p.error("--features-only is for vgg16 and vgg19 (other families keep their small classifier, "
                "so that a fine-tuned backbone loads back into torchvision with strict=True)")
    if args.out is None:
        suffix = "_features" if args.features_only else ""
        if args.width_div != 1:
            suffix += f"_div{args.width_div}"  # never clobber a full-size model by accident
        args.out = os.path.join("models", f"{args.arch}{suffix}.pt")
    return args


def scaled_cfg(arch, width_div):
    """torchvision's layer config with every conv width divided by width_div."""
    cfg = tv_vgg.cfgs[VGG_CFG_KEYS[arch]]
    return [v if v == "M" else v // width_div for v in cfg]


def make_classifier(in_features, hidden):
    """Same 7-layer structure (and init) as torchvision's VGG classifier."""
    classifier = nn.Sequential(
        nn.Linear(in_features, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, NUM_CLASSES),
    )
    for m in classifier:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    return classifier


def build_vgg(arch, width_div):
    features = tv_vgg.make_layers(scaled_cfg(arch, width_div), batch_norm=False)
    model = tv_vgg.VGG(features, num_classes=NUM_CLASSES, init_weights=True)
    if width_div != 1:
        # VGG hard-codes Linear(512*7*7, 4096); rebuild it for the narrower network.
        channels = 512 // width_div
        model.classifier = make_classifier(channels * 7 * 7, BASE_HIDDEN // width_div)
    return model


class NarrowResNet(tv_resnet.ResNet):
    """torchvision's ResNet with every width divided by width_div. The class is renamed back to
    `ResNet` before scripting, so the file is indistinguishable from a narrow torchvision one."""

    def __init__(self, block, layers, width_div):
        nn.Module.__init__(self)
        widths = [64 // width_div * 2 ** i for i in range(4)]
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = widths[0], 1, 1, 64
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, NUM_CLASSES)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def build_random(arch, seed, width_div):
    torch.manual_seed(seed)
    if arch in VGG_CFG_KEYS:
        return build_vgg(arch, width_div)
    if width_div == 1:
        return getattr(torchvision.models, arch)()
    if arch in RESNET_BLOCKS:
        model = NarrowResNet(*RESNET_BLOCKS[arch], width_div)
        model.__class__ = tv_resnet.ResNet
        return model
    if arch in MOBILENETS:
        setting, last = tv_mobilenet._mobilenet_v3_conf(arch, width_mult=1.0 / width_div)
        return tv_mobilenet.MobileNetV3(setting, last)
    if arch in EFFICIENTNETS:
        width, depth, dropout = EFFICIENTNETS[arch]
        setting, last = tv_efficientnet._efficientnet_conf(arch, width_mult=width / width_div, depth_mult=depth)
        return tv_efficientnet.EfficientNet(setting, dropout, last_channel=last)
    widths, depths, drop = CONVNEXT_STAGES[arch]
    widths = [w // width_div for w in widths]
    setting = [tv_convnext.CNBlockConfig(w, widths[i + 1] if i + 1 < len(widths) else None, d)
               for i, (w, d) in enumerate(zip(widths, depths))]
    return tv_convnext.ConvNeXt(setting, stochastic_depth_prob=drop)


def build_imagenet(arch):
    builder = getattr(torchvision.models, arch)
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        return builder(weights="DEFAULT")  # each family's ImageNet-1k weights
    except KeyboardInterrupt:
        raise
    except Exception as e:  # URLError, timeouts, hash mismatch, ...: all mean "no weights"
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ExportError(
            f"cannot download ImageNet weights ({reason}); run with --weights random "
            "for an offline model, or copy the exported file from a connected machine")
    finally:
        socket.setdefaulttimeout(None)


def to_export_module(model, features_only):
    model = VGGFeatures(model.features, model.avgpool) if features_only else model
    return model.eval().cpu()


def save_scripted(module, path, meta):
    """Script and save atomically: write into a private temporary folder beside
    the target (same file name, since the archive records it; a private folder,
    since several processes may export at once), then rename over the target."""
    scripted = torch.jit.script(module)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=".export-", dir=parent)
    tmp = os.path.join(tmp_dir, os.path.basename(path))
    try:
        torch.jit.save(scripted, tmp, _extra_files={"tl_backbone.json": json.dumps(meta)})
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.weights == "imagenet":
            model = build_imagenet(args.arch)
        else:
            model = build_random(args.arch, args.seed, args.width_div)
        module = to_export_module(model, args.features_only)
        meta = {
            "arch": args.arch,
            "weights": args.weights,
            "seed": args.seed,
            "features_only": args.features_only,
            "width_div": args.width_div,
            "torch_version": torch.__version__,
        }
        save_scripted(module, args.out, meta)
    except (ExportError, OSError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1

    n_params = sum(p.numel() for p in module.parameters())
    n_convs = sum(isinstance(m, nn.Conv2d) for m in module.modules())
    size_mb = os.path.getsize(args.out) / 1e6
    print(f"{PROG}: wrote {args.out} ({size_mb:.2f} MB, {n_params:,} parameters, "
          f"{n_convs} conv layers, arch={args.arch}, weights={args.weights}"
          f"{', features only' if args.features_only else ''}"
          f"{f', width/{args.width_div}' if args.width_div != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
