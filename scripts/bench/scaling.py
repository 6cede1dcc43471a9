#!/usr/bin/env python3
"""Data-parallel scaling: 2 ranks x 1 thread against 1 process x 1 thread, training images/s,
tl-train and PyTorch's DistributedDataParallel (the peer, scripts/bench/peer.py) side by side.

    /usr/bin/python3 scripts/bench/scaling.py --tl build/tl-train --data data/fashion_source \
        --backbone models/vgg16_random_features.pt [--size 32] [--epochs 3] [--out bench-out/scaling]

Full-width VGG16 (random weights) at --size px, batch 32 per process, the head of
configs/food11_half.json, two workloads: half frozen (blocks 1-3 frozen; tl-train caches their
output, the peer runs them every step as a PyTorch user would; blocks 4-5 and the head trained:
~13 M trainable parameters) and all frozen without tl-train's feature cache (the whole backbone
forward, the head trained). Throughput is the training split's images over the median training
time of epochs 2.. (epoch 1 builds tl-train's feature cache; validation is not counted). The peer's
2-rank run is DDP on Gloo over 127.0.0.1 with a DistributedSampler. tl-train's all-reduce share is
what rank 0's log reports: time waiting for gradient all-reduces after backward over the epochs'
training time. Prints a Markdown table and writes OUT/scaling.json.

--ceiling also runs two independent one-process tl-train runs at the same time: their summed
images/s over one process alone is what two processes can get from the machine's cores with no
communication at all (1.76x to 2.09x on the 2-core machines of docs/distributed.md).
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


def start_train(tl, out, config, extra):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [tl, "train", "--config", config, "--quiet", "--set", f"train.out={out}"] + extra
    with open(out + ".log", "w") as f:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)


def finish_train(process, out):
    if process.wait(timeout=3600) != 0:
        raise SystemExit(f"tl-train failed: see {out}.log")
    history = json.load(open(os.path.join(out, "history.json")))
    seconds = statistics.median(e["seconds"] for e in history[1:])
    text = open(os.path.join(out, "train.log")).read()
    share = None
    m = re.findall(r"all-reduce: ([0-9.]+) s waiting over ([0-9.]+) s of training", text)
    if m:
        share = float(m[-1][0]) / float(m[-1][1])
    return seconds, share


def train(tl, out, config, extra):
    return finish_train(start_train(tl, out, config, extra), out)


def ceiling(tl, out, config):
    """The epoch seconds of two independent one-process runs started together."""
    outs = [f"{out}_{k}" for k in "ab"]
    runs = [start_train(tl, o, config, []) for o in outs]
    return [finish_train(p, o)[0] for p, o in zip(runs, outs)]


def peer_train(out, freeze, a, nproc):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer.py"), "train",
           "--data", a.data, "--backbone", a.backbone, "--freeze", freeze, "--size", str(a.size), "--batch", "32",
           "--threads", "1", "--workers", "1", "--epochs", str(a.epochs), "--out", out, "--nproc", str(nproc)]
    with open(out + ".log", "w") as f:
        if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=3600).returncode != 0:
            raise SystemExit(f"peer.py failed (it needs a full-width VGG16 --backbone): see {out}.log")
    history = json.load(open(os.path.join(out, "history.json")))
    return statistics.median(e["train_seconds"] for e in history[1:])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tl", required=True)
    p.add_argument("--data", required=True, help="a Food-11 layout folder (the demo's data/fashion_source)")
    p.add_argument("--backbone", required=True, help="VGG16 features (scripts/export_backbone.py --features-only)")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", default="bench-out/scaling")
    p.add_argument("--only", help="one workload: half or all")
    p.add_argument("--ceiling", action="store_true", help="also time two independent runs at once")
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
                             "head": {"pool": "avg", "hidden": [100], "dropout": 0.2}},
                   "optim": {"name": "adam", "lr": 1e-4},
                   "train": {"epochs": a.epochs, "batch_size": 32, "eval_test": False, "feature_cache": cache}},
                  open(config, "w"))
        key = name.split(",")[0].replace(" ", "_")
        one, _ = train(a.tl, os.path.join(a.out, key + "_1"), config, [])
        two, share = train(a.tl, os.path.join(a.out, key + "_2"), config, ["--nproc", "2", "--master-port", "29731"])
        if a.ceiling:
            both = ceiling(a.tl, os.path.join(a.out, key + "_independent"), config)
            results.setdefault("ceiling", {})[key] = sum(one / s for s in both)
            print(f"{name}: two independent processes at once reach {results['ceiling'][key]:.2f}x one process; "
                  f"2 ranks {one / two:.2f}x", flush=True)
        peer_one = peer_train(os.path.join(a.out, key + "_peer_1"), freeze, a, 1)
        peer_two = peer_train(os.path.join(a.out, key + "_peer_2"), freeze, a, 2)
        ips = {k: train_images / v for k, v in
               {"tl_1": one, "tl_2": two, "peer_1": peer_one, "peer_2": peer_two}.items()}
        results[key] = {"images_per_s": ips, "tl_speedup": one / two, "peer_speedup": peer_one / peer_two,
                        "tl_over_peer_2_ranks": ips["tl_2"] / ips["peer_2"], "tl_allreduce_share": share}
        rows.append(f"| {name} | {ips['tl_1']:.1f} | {ips['tl_2']:.1f} | {one / two:.2f}x | "
                    f"{'' if share is None else f'{100 * share:.0f} %'} | {ips['peer_1']:.1f} | {ips['peer_2']:.1f} | "
                    f"{peer_one / peer_two:.2f}x | {ips['tl_2'] / ips['peer_2']:.2f}x |")
        print(rows[-1], flush=True)
    print(f"\nVGG16 at {a.size} px, batch 32 per process, 1 thread and 1 loader worker per process, "
          f"{train_images} training images, median of epochs 2-{a.epochs}")
    print("| workload | tl-train 1 process (img/s) | tl-train 2 ranks | tl-train speed-up | tl-train all-reduce share "
          "| DDP peer 1 process | DDP peer 2 ranks | peer speed-up | tl-train / peer, 2 ranks |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    for key, factor in results.get("ceiling", {}).items():
        print(f"\n{key}: two independent one-process runs at once reach {factor:.2f}x one process "
              f"(the most 2 processes get from these cores); 2 ranks {results[key]['tl_speedup']:.2f}x")
    json.dump(results, open(os.path.join(a.out, "scaling.json"), "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
