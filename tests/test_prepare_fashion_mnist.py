#!/usr/bin/env python3
"""scripts/prepare_fashion_mnist.py: layout, reproducibility and --placement (the demo's data).

Usage (CTest runs it): test_prepare_fashion_mnist.py SOURCE_DIR

Writes two small datasets from Debian's dataset-fashion-mnist and checks: the Food-11 layout and
counts; byte-identical output for the same arguments; centred items touch the frame's edges while
randomly placed ones are smaller, sit on a black border, and vary in size and position; a
non-empty output folder is refused without --overwrite; --help prints the options.

Exits 77 (CTest SKIP_RETURN_CODE) when numpy or PIL is missing or the dataset is not installed.
"""

import hashlib
import os
import subprocess
import sys
import tempfile

SKIP = 77
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

try:
    import numpy as np
    from PIL import Image
except ImportError as e:
    print(f"SKIP: {e}; needs numpy and PIL (Debian: python3-torchvision pulls them in)")
    sys.exit(SKIP)
if not os.path.isfile(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz")):
    print(f"SKIP: {FASHION_MNIST} missing (apt-get install dataset-fashion-mnist)")
    sys.exit(SKIP)

SCRIPT = os.path.join(sys.argv[1], "scripts", "prepare_fashion_mnist.py")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


def prepare(out, *extra):
    cmd = [sys.executable, SCRIPT, "--out", out, "--classes", "5,9", "--per-class", "12",
           "--val-per-class", "3", "--test-per-class", "4", "--size", "32", "--seed", "3", *extra]
    return subprocess.run(cmd, capture_output=True, text=True)


def digest(folder):
    h = hashlib.sha256()
    for root, _dirs, files in sorted(os.walk(folder)):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


def item_boxes(folder):
    """(width, height, left, top) of each image's non-black area."""
    boxes = []
    for name in sorted(os.listdir(folder)):
        pixels = np.asarray(Image.open(os.path.join(folder, name)).convert("L"))
        check(pixels.shape == (32, 32), f"{name}: {pixels.shape}, expected 32x32")
        rows, cols = np.nonzero(pixels > 40)  # JPEG ringing stays below this
        boxes.append((cols.max() - cols.min() + 1, rows.max() - rows.min() + 1, cols.min(), rows.min()))
    return boxes


with tempfile.TemporaryDirectory() as tmp:
    centred, placed, again = (os.path.join(tmp, n) for n in ("centred", "placed", "again"))
    for out, extra in ((centred, ()), (placed, ("--placement", "random")), (again, ("--placement", "random"))):
        r = prepare(out, *extra)
        check(r.returncode == 0, f"prepare {extra} failed: {r.stderr.strip()}")

    for split, count in (("training", 24), ("validation", 6), ("evaluation", 8)):
        names = sorted(os.listdir(os.path.join(placed, split)))
        check(len(names) == count, f"{split}: {len(names)} files, expected {count}")
        check(all(n.split("_")[0] in ("0", "1") and n.endswith(".jpg") for n in names), f"{split}: names {names[:3]}")
    with open(os.path.join(placed, "classes.txt")) as f:
        check(f.read() == "Sandal\nAnkle boot\n", "classes.txt does not list Sandal, Ankle boot")

    check(digest(placed) == digest(again), "the same arguments gave different files")
    check(digest(placed) != digest(centred), "--placement random wrote the centred images")

    # Sandals and ankle boots span (nearly) the whole 28x28 Fashion-MNIST frame when centred.
    centred_boxes = item_boxes(os.path.join(centred, "training"))
    check(min(max(w, h) for w, h, _, _ in centred_boxes) >= 28, f"centred items too small: {centred_boxes[:4]}")
    placed_boxes = item_boxes(os.path.join(placed, "training"))
    sides = [max(w, h) for w, h, _, _ in placed_boxes]
    check(min(sides) < 24 and max(sides) > 24, f"random scale not spread over 50-100%: sides {sorted(sides)}")
    check(min(sides) >= 14, f"an item shrank below half the frame: {sorted(sides)}")
    positions = {(left, top) for _, _, left, top in placed_boxes}
    check(len(positions) > len(placed_boxes) // 2, f"positions barely vary: {sorted(positions)}")

    r = prepare(placed, "--placement", "random")
    check(r.returncode != 0 and "--overwrite" in r.stderr, "a non-empty --out was not refused with a hint")

r = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True)
check(r.returncode == 0 and "50-100% of the frame" in r.stdout, f"--help failed: {r.stderr.strip()[-200:]}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("prepare_fashion_mnist: all checks passed")
