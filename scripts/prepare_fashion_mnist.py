#!/usr/bin/env python3
"""Lay Fashion-MNIST out as a small Food-11-style image dataset for tl-train.

Output layout (label = position of the class in --classes, 0..k-1):
  OUT/training/<label>_<n>.jpg
  OUT/validation/<label>_<n>.jpg
  OUT/evaluation/<label>_<n>.jpg
  OUT/classes.txt            line i = name of label i
<n> is a running index within each split. Training and validation images
come from the IDX train set (disjoint), evaluation images from the t10k set.
Same arguments -> byte-identical files.

Example:
  scripts/prepare_fashion_mnist.py --out data/fmnist5 --classes 0,1,7,8,9 --per-class 1000
"""

import argparse
import gzip
import os
import shutil
import sys

import numpy as np
from PIL import Image

PROG = "prepare_fashion_mnist.py"
DEFAULT_SOURCE = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPLITS = ("training", "validation", "evaluation")
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
JPEG_QUALITY = 95
# Pillow >= 9.1 moved the filters into Image.Resampling; older ones only have Image.BILINEAR.
BILINEAR = getattr(Image, "Resampling", Image).BILINEAR
MIN_RANDOM_SCALE = 0.5


class PrepareError(Exception):
    """A user-facing failure: reported as one line on stderr, exit status 1."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog=PROG, description="Write a Food-11-style JPEG dataset from Fashion-MNIST.")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--classes", default=None,
                   help="comma-separated class indices or names, relabelled 0..k-1 in this "
                        "order (default: all 10). Names: " + ", ".join(CLASS_NAMES))
    p.add_argument("--per-class", type=int, default=100, help="training images per class")
    p.add_argument("--val-per-class", type=int, default=None,
                   help="validation images per class (default: max(1, per_class // 5))")
    p.add_argument("--test-per-class", type=int, default=None,
                   help="evaluation images per class (default: same as validation)")
    p.add_argument("--size", type=int, default=32, help="output side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--placement", choices=("centred", "random"), default="centred",
                   help="centred: the item fills the frame, as in Fashion-MNIST; random: "
                        "scaled to %d-100%%%% of the frame and placed at a random position "
                        "(seeded), as objects sit in photographs" % int(100 * MIN_RANDOM_SCALE))
    p.add_argument("--source", default=DEFAULT_SOURCE,
                   help="directory with the *-ubyte.gz IDX files")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing dataset in a non-empty --out")
    args = p.parse_args(argv)

    if args.val_per_class is None:
        args.val_per_class = max(1, args.per_class // 5)
    if args.test_per_class is None:
        args.test_per_class = args.val_per_class
    if args.per_class < 1:
        p.error("--per-class must be at least 1")
    if args.val_per_class < 0 or args.test_per_class < 0:
        p.error("--val-per-class and --test-per-class must not be negative")
    if args.size < 1:
        p.error("--size must be at least 1")
    if args.seed < 0:
        p.error("--seed must not be negative")
    return args


def parse_classes(spec):
    """Class indices (into CLASS_NAMES) from '0,Trouser,ankle boot'; None means all ten."""
    if spec is None:
        return list(range(len(CLASS_NAMES)))
    by_name = {name.lower(): i for i, name in enumerate(CLASS_NAMES)}
    chosen = []
    for token in (t.strip() for t in spec.split(",")):
        if token.isdigit() and int(token) < len(CLASS_NAMES):
            cls = int(token)
        elif token.lower() in by_name:
            cls = by_name[token.lower()]
        else:
            raise PrepareError(f"unknown class '{token}' (use 0-9 or one of: "
                               + ", ".join(CLASS_NAMES) + ")")
        if cls in chosen:
            raise PrepareError(f"class '{token}' given twice")
        chosen.append(cls)
    return chosen


def read_idx(path, magic):
    """Array from a gzipped IDX file (big-endian header: magic, then one int32 per dim)."""
    if not os.path.isfile(path):
        raise PrepareError(f"missing {path}; install it with "
                           "'apt-get install dataset-fashion-mnist' or pass --source")
    with gzip.open(path, "rb") as f:
        data = f.read()
    header_magic = int.from_bytes(data[0:4], "big")
    if header_magic != magic:
        raise PrepareError(f"{path}: not an IDX file of the expected kind "
                           f"(magic {header_magic}, expected {magic})")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_set(source, prefix):
    images = read_idx(os.path.join(source, f"{prefix}-images-idx3-ubyte.gz"), IDX_IMAGES_MAGIC)
    labels = read_idx(os.path.join(source, f"{prefix}-labels-idx1-ubyte.gz"), IDX_LABELS_MAGIC)
    if len(images) != len(labels):
        raise PrepareError(f"{source}: {prefix} has {len(images)} images but {len(labels)} labels")
    return images, labels


def pick(labels, cls, counts, seed, set_id):
    """Disjoint, seeded random index lists of the given sizes from the images of class cls.

    The generator is seeded per (seed, set, original class) so a class gets the same
    images whichever other classes are chosen and in whatever order.
    """
    pool = np.flatnonzero(labels == cls)
    if sum(counts) > len(pool):
        raise PrepareError(f"not enough images of class '{CLASS_NAMES[cls]}': need "
                           f"{sum(counts)}, the {set_id} set has {len(pool)}")
    set_code = {"train": 0, "test": 1}[set_id]
    shuffled = np.random.default_rng([seed, set_code, cls]).permutation(pool)
    bounds = np.cumsum([0] + list(counts))
    return [shuffled[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def select(args, classes, train_labels, test_labels):
    """{split: [(new_label, index into its IDX set), ...]} in class order."""
    plan = {split: [] for split in SPLITS}
    for label, cls in enumerate(classes):
        train_idx, val_idx = pick(train_labels, cls, [args.per_class, args.val_per_class],
                                  args.seed, "train")
        (test_idx,) = pick(test_labels, cls, [args.test_per_class], args.seed, "test")
        plan["training"] += [(label, i) for i in train_idx]
        plan["validation"] += [(label, i) for i in val_idx]
        plan["evaluation"] += [(label, i) for i in test_idx]
    return plan


def prepare_out_dir(out, overwrite):
    """Create OUT; refuse a non-empty one unless --overwrite, then drop only our outputs."""
    if os.path.isdir(out) and os.listdir(out):
        if not overwrite:
            raise PrepareError(f"{out} exists and is not empty (use --overwrite to replace it)")
        for split in SPLITS:
            shutil.rmtree(os.path.join(out, split), ignore_errors=True)
    for split in SPLITS:
        os.makedirs(os.path.join(out, split), exist_ok=True)


def write_image(pixels, size, path, rng=None):
    """28x28 grayscale -> size x size RGB JPEG (3 channels, as ImageNet backbones expect).

    With `rng` the item is shrunk to a random side and pasted at a random place on a black
    frame (Fashion-MNIST's background is black)."""
    img = Image.fromarray(pixels, mode="L")
    side = size if rng is None else max(1, round(size * rng.uniform(MIN_RANDOM_SCALE, 1.0)))
    if img.size != (side, side):
        img = img.resize((side, side), BILINEAR)
    if side != size:
        frame = Image.new("L", (size, size), 0)
        frame.paste(img, tuple(int(v) for v in rng.integers(0, size - side + 1, size=2)))
        img = frame
    img.convert("RGB").save(path, format="JPEG", quality=JPEG_QUALITY)


def main(argv=None):
    args = parse_args(argv)
    try:
        classes = parse_classes(args.classes)
        train_images, train_labels = load_set(args.source, "train")
        test_images, test_labels = load_set(args.source, "t10k")
        plan = select(args, classes, train_labels, test_labels)
        prepare_out_dir(args.out, args.overwrite)

        for split_code, (split, items) in enumerate(plan.items()):
            images = test_images if split == "evaluation" else train_images
            rng = (np.random.default_rng([args.seed, 100 + split_code])
                   if args.placement == "random" else None)
            for n, (label, idx) in enumerate(items):
                write_image(images[idx], args.size,
                            os.path.join(args.out, split, f"{label}_{n}.jpg"), rng)
        with open(os.path.join(args.out, "classes.txt"), "w", encoding="utf-8") as f:
            f.write("".join(CLASS_NAMES[c] + "\n" for c in classes))
    except (PrepareError, OSError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1

    counts = ", ".join(f"{len(plan[s])} {s}" for s in SPLITS)
    print(f"{PROG}: wrote {counts} images ({len(classes)} classes, "
          f"{args.size}x{args.size}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
