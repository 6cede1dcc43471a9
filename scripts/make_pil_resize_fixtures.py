#!/usr/bin/env python3
"""Writes tests/fixtures/pil_resize: an input image and PIL's (and torchvision's) resizes of it,
which tests/test_image.cpp compares data.interpolation's filters with, so no test needs Python."""
import argparse
import pathlib
import sys

import numpy as np
from PIL import Image

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out", nargs="?", default="tests/fixtures/pil_resize", help="output folder (default: %(default)s)")
out = pathlib.Path(parser.parse_args().out)
out.mkdir(parents=True, exist_ok=True)
rng = np.random.RandomState(0)
# Noise over a gradient: every tap of every filter shows in the result.
y, x = np.mgrid[0:61, 0:97]
base = np.stack([x * 2, y * 4, (x + y) * 1.5], axis=-1)
pixels = np.clip(base + rng.randint(-60, 61, size=base.shape), 0, 255).astype(np.uint8)
image = Image.fromarray(pixels, "RGB")
image.save(out / "input.png")
filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
for name, f in filters.items():
    for w, h in [(32, 20), (40, 40), (150, 90), (97, 30), (13, 61)]:
        image.resize((w, h), f).save(out / f"{name}_{w}x{h}.png")
try:  # torchvision Resize + CenterCrop (data.resize shorter_center_crop) on a PIL image
    from torchvision import transforms as T
    for name, f in [("bilinear", T.InterpolationMode.BILINEAR), ("bicubic", T.InterpolationMode.BICUBIC)]:
        T.Compose([T.Resize(32, interpolation=f), T.CenterCrop(32)])(image).save(out / f"torchvision_{name}_32.png")
except ImportError:
    print("torchvision missing: the torchvision_*.png files were not written", file=sys.stderr)
