#!/usr/bin/env python3
"""Data-parallel scaling: 2 ranks x 1 thread against 1 process x 1 thread, training images/s.

    /usr/bin/python3 scripts/bench/scaling.py --tl build/tl-train --data data/fashion_source \
        --backbone models/vgg16_random_features.pt [--size 32] [--epochs 3] [--out bench-out/scaling]

Full-width VGG16 (random weights) at --size px, batch 32 per process, two workloads: half frozen
(blocks 1-3 frozen and cached, blocks 4-5 and the head trained: ~13 M trainable parameters) and
all frozen without the feature cache (the whole backbone forward, the head trained). Throughput is the training split's images over
the median epoch time of epochs 2.. (epoch 1 builds the feature cache). The data-parallel run's
all-reduce share is what rank 0's log reports: time waiting for gradient all-reduces over the
epochs' training time. Prints a Markdown table and writes OUT/scaling.json.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

# name: (model.freeze, train.feature_cache). All frozen runs the whole backbone forward every step
# (no cache): with the cache its epochs take a tenth of a second and time nothing but start-up.
WORKLOADS = {"half frozen": ("block3_conv3", "auto"), "all frozen, no feature cache": ("all", "off")}


def train(tl, out, config, extra, log):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [tl, "train", "--config", config, "--quiet", "--set", f"train.out={out}"] + extra
    with open(log, "w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, timeout=3600)
    history = json.load(open(os.path.join(out, "history.json")))
    seconds = statistics.median(e["seconds"] for e in history[1:])
    text = open(os.path.join(out, "train.log")).read()
    share = None
    m = re.findall(r"all-reduce: ([0-9.]+) s waiting over ([0-9.]+) s of training", text)
    if m:
        share = float(m[-1][0]) / float(m[-1][1])
    return seconds, share


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tl", required=True)
    p.add_argument("--data", required=True, help="a Food-11 layout folder (the demo's data/fashion_source)")
    p.add_argument("--backbone", required=True, help="VGG16 features (scripts/export_backbone.py --features-only)")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", default="bench-out/scaling")
    p.add_argument("--only", help="one workload: half or all")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    train_images = sum(1 for _ in os.scandir(os.path.join(a.data, "training")))
    rows, results = [], {}
    for name, (freeze, cache) in WORKLOADS.items():
        if a.only and not name.startswith(a.only):
            continue
        config = os.path.join(a.out, "config.json")
        json.dump({"threads": 1, "data": {"root": a.data, "layout": "food11", "workers": 1},
                   "model": {"backbone": a.backbone, "freeze": freeze, "input_size": a.size,
                             "head": {"pool": "avg", "hidden": [64], "dropout": 0.0}},
                   "optim": {"name": "adam", "lr": 1e-4},
                   "train": {"epochs": a.epochs, "batch_size": 32, "eval_test": False, "feature_cache": cache}},
                  open(config, "w"))
        key = name.split(",")[0].replace(" ", "_")
        one, _ = train(a.tl, os.path.join(a.out, key + "_1"), config, [], os.path.join(a.out, key + "_1.log"))
        two, share = train(a.tl, os.path.join(a.out, key + "_2"), config, ["--nproc", "2", "--master-port", "29731"],
                           os.path.join(a.out, key + "_2.log"))
        speedup = one / two
        results[key] = {"one_process_images_per_s": train_images / one, "two_ranks_images_per_s": train_images / two,
                        "speedup": speedup, "allreduce_share": share}
        rows.append(f"| {name} | {train_images / one:.1f} | {train_images / two:.1f} | {speedup:.2f}x | "
                    f"{'' if share is None else f'{100 * share:.0f} %'} |")
        print(rows[-1], flush=True)
    print(f"\nVGG16 at {a.size} px, batch 32 per process, {train_images} training images, median of epochs 2-{a.epochs}")
    print("| workload | 1 process x 1 thread (img/s) | 2 ranks x 1 thread (img/s) | speed-up | all-reduce share |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    json.dump(results, open(os.path.join(a.out, "scaling.json"), "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
