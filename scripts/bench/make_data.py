#!/usr/bin/env python3
"""Write the benchmark's dataset: a Food-11 tree of ~512x512 JPEGs.

Each image is a Fashion-MNIST item (when /usr/share/datasets/fashion-mnist is
there; random blobs otherwise) upscaled to the full side and tinted with its
class colour, over a smooth random background with fine noise, so the JPEGs
have the size and entropy of photos (~40-80 KB) rather than of flat colour.

  OUT/training/<label>_<n>.jpg  OUT/validation/...  OUT/evaluation/...

Same arguments -> the same files. Only numpy and Pillow are needed.
"""

import argparse
import gzip
import os
import sys

import numpy as np
from PIL import Image

FMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
CLASSES = 11  # Food-11


def items(count, rng):
    """`count` 28x28 uint8 item masks: Fashion-MNIST images, or random blobs without it."""
    if os.path.exists(FMNIST):
        with gzip.open(FMNIST, "rb") as f:
            data = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        return data[rng.choice(len(data), count, replace=False)]
    yy, xx = np.mgrid[0:28, 0:28]
    out = np.zeros((count, 28, 28), np.uint8)
    for i in range(count):
        cy, cx, r = rng.uniform(8, 20), rng.uniform(8, 20), rng.uniform(4, 10)
        out[i] = 255 * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)
    return out


def image(label, item, size, rng):
    tint = np.array([(label * 97) % 256, (label * 57 + 80) % 256, (label * 151 + 160) % 256], np.float32)
    background = rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    img = np.asarray(Image.fromarray(background).resize((size, size), Image.BICUBIC), np.float32)
    mask = np.asarray(Image.fromarray(item).resize((size, size), Image.BILINEAR), np.float32)[..., None] / 255
    img = img * (1 - mask) + tint * mask + rng.normal(0, 12, (size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=32, help="training images per class")
    p.add_argument("--val", type=int, default=8, help="validation images per class")
    p.add_argument("--test", type=int, default=8, help="evaluation images per class")
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    splits = [("training", args.train), ("validation", args.val), ("evaluation", args.test)]
    masks = items(CLASSES * sum(n for _, n in splits), rng)
    k = 0
    for split, per_class in splits:
        os.makedirs(os.path.join(args.out, split), exist_ok=True)
        for label in range(CLASSES):
            for n in range(per_class):
                path = os.path.join(args.out, split, f"{label}_{n}.jpg")
                image(label, masks[k], args.side, rng).save(path, quality=90)
                k += 1
    print(f"make_data.py: wrote {k} images of {args.side}x{args.side} to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
