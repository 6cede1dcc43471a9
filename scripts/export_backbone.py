#!/usr/bin/env python3
"""Export torchvision's VGG16/VGG19 as a TorchScript file for tl-train.

The C++ side loads the result with torch::jit::load and relies on the
torchvision submodule names: `features` (conv/relu/maxpool Sequential with
the original indices), `avgpool` and, unless --features-only, `classifier`
(the original 7-layer Sequential). Metadata about how the file was made is
stored as the extra file `tl_backbone.json` inside the archive.

Examples:
  scripts/export_vgg16.py                                  # ImageNet VGG16 -> models/vgg16.pt
  scripts/export_vgg16.py --features-only                  # backbone only (~58 MB)
  scripts/export_vgg16.py --weights random --width-div 16 --out /tmp/tiny.pt
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
    from torchvision.models import vgg as tv_vgg
except ImportError as e:
    # Common on Debian when `python3` is a pyenv/venv interpreter without the apt torch.
    sys.exit(f"export_vgg16.py: {e}; install python3-torchvision or run with /usr/bin/python3")

PROG = "export_vgg16.py"
CFG_KEYS = {"vgg16": "D", "vgg19": "E"}  # torchvision's names for the layer configs
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
        prog=PROG, description="Export torchvision VGG16/VGG19 to TorchScript for tl-train.")
    p.add_argument("--arch", choices=sorted(CFG_KEYS), default="vgg16")
    p.add_argument("--weights", choices=["imagenet", "random"], default="imagenet",
                   help="ImageNet weights (downloaded once into the torch hub cache) "
                        "or seeded random initialisation (offline)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for --weights random (output is bit-reproducible)")
    p.add_argument("--features-only", action="store_true",
                   help="drop the classifier; forward returns the feature map")
    p.add_argument("--width-div", type=int, default=1, metavar="N",
                   help="divide all conv widths and the 4096 hidden width by N "
                        "(tiny test networks; --weights random only)")
    p.add_argument("--out", help="output path (default models/<arch>[_features].pt)")
    args = p.parse_args(argv)

    if args.width_div < 1 or 64 % args.width_div != 0:
        p.error("--width-div must divide 64 (1, 2, 4, 8, 16, 32 or 64)")
    if args.width_div != 1 and args.weights != "random":
        p.error("--width-div needs --weights random (ImageNet weights only fit the full width)")
    if args.out is None:
        suffix = "_features" if args.features_only else ""
        if args.width_div != 1:
            suffix += f"_div{args.width_div}"  # never clobber a full-size model by accident
        args.out = os.path.join("models", f"{args.arch}{suffix}.pt")
    return args


def scaled_cfg(arch, width_div):
    """torchvision's layer config with every conv width divided by width_div."""
    cfg = tv_vgg.cfgs[CFG_KEYS[arch]]
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


def build_random(arch, seed, width_div):
    torch.manual_seed(seed)
    features = tv_vgg.make_layers(scaled_cfg(arch, width_div), batch_norm=False)
    model = tv_vgg.VGG(features, num_classes=NUM_CLASSES, init_weights=True)
    if width_div != 1:
        # VGG hard-codes Linear(512*7*7, 4096); rebuild it for the narrower network.
        channels = 512 // width_div
        model.classifier = make_classifier(channels * 7 * 7, BASE_HIDDEN // width_div)
    return model


def build_imagenet(arch):
    weights = {"vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1,
               "vgg19": torchvision.models.VGG19_Weights.IMAGENET1K_V1}[arch]
    builder = getattr(torchvision.models, arch)
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        return builder(weights=weights)
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
    n_convs = sum(isinstance(m, nn.Conv2d) for m in module.features)
    size_mb = os.path.getsize(args.out) / 1e6
    print(f"{PROG}: wrote {args.out} ({size_mb:.2f} MB, {n_params:,} parameters, "
          f"{n_convs} conv layers, arch={args.arch}, weights={args.weights}"
          f"{', features only' if args.features_only else ''}"
          f"{f', width/{args.width_div}' if args.width_div != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
