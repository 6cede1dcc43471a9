#!/usr/bin/env python3
"""Times tl-train against scripts/bench/peer.py on the same machine, data and weights.

Called by scripts/bench/run.sh, which builds the binaries, writes the data and exports the
backbone first. Every process is timed from outside (wall clock around the whole process, peak
RSS from wait4), tl-train and the peer in alternating runs; each figure is the median of the
repeats. Writes OUT/report.md (also printed) and OUT/report.json.

Workloads: (1) full fine-tune, (2) half-frozen (block3_conv3), (3) head only with all conv
layers frozen, 5 epochs, whole run, (4) evaluation of a checkpoint, (5) the data pipeline alone,
(6) predict of one image from a cold start; then (7) ResNet-50 and (8) EfficientNet-B0:
half-frozen training, head only for 5 epochs and evaluation.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = [sys.executable, os.path.join(HERE, "peer.py")]

# VGG16's convolutions (torchvision cfg "D"): output channels, "M" = 2x2 max pool.
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
FROZEN_CONVS = {"none": 0, "block3_conv3": 7, "all": 13}
HEAD_MACS = 512 * 100 + 100 * 11
TARGETS = {"full": 1.1, "half": 1.1, "head": 3.5, "evaluate": 1.2, "pipeline": 2.0}
# The other families: the half-frozen spec (about half the stages) and the targets.
FAMILIES = {"resnet50": "layer2", "efficientnet_b0": "features.4"}
FAMILY_TARGETS = {"half": 1.1, "head": 3.0, "evaluate": 1.2}


def median(values):
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------- running processes

def read_vm_hwm_kb(pid):
    """The process's peak resident set so far (VmHWM), in KiB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run(cmd, log, history=None):
    """Runs `cmd` to completion. Returns wall seconds, the peak RSS in MiB of the largest process
    it waited for (wait4), its stdout, and, when `history` names the history.json the process
    rewrites at the end of each epoch, the main process's peak RSS (MiB) at each epoch's end."""
    with open(log + ".out", "w+") as out, open(log, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        epoch_rss, seen_mtime = [], None
        while True:
            pid, status, usage = os.wait4(proc.pid, 0 if history is None else os.WNOHANG)
            if pid:
                break
            try:
                mtime = os.stat(history).st_mtime_ns
            except OSError:
                mtime = None
            if mtime is not None and mtime != seen_mtime:
                seen_mtime = mtime
                hwm = read_vm_hwm_kb(proc.pid)
                try:
                    with open(history) as f:
                        epochs = len(json.load(f))
                except (OSError, ValueError):
                    epochs = 0
                if hwm is not None and epochs > len(epoch_rss):
                    epoch_rss.append(hwm / 1024)
            time.sleep(0.05)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        stdout = out.read()
    if proc.returncode != 0:
        sys.exit(f"bench.py: {' '.join(cmd)} failed with exit status {proc.returncode}; see {log}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "epoch_rss_mb": epoch_rss, "stdout": stdout}


def last_json_line(text):
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


# ---------------------------------------------------------------------------- FLOP counts

def conv_flops(size):
    """Forward FLOPs (2 x MACs) of each VGG16 conv for one size x size image."""
    flops, channels, side = [], 3, size
    for v in VGG16:
        if v == "M":
            side //= 2
        else:
            flops.append(2 * side * side * channels * v * 9)
            channels = v
    return flops


def train_flops(size, freeze, cached):
    """FLOPs of one training image: forward everywhere (the frozen prefix only without the
    feature cache), weight gradients of the trainable convs and input gradients of all but the
    first trainable conv (its input needs none)."""
    f, k = conv_flops(size), FROZEN_CONVS[freeze]
    prefix = 0 if cached else sum(f[:k])
    return prefix + sum(f[k:]) + sum(f[k:]) + sum(f[k + 1:]) + 3 * 2 * HEAD_MACS


def eval_flops(size, freeze="none", cached=False):
    f, k = conv_flops(size), FROZEN_CONVS[freeze]
    return (0 if cached else sum(f[:k])) + sum(f[k:]) + 2 * HEAD_MACS


# ---------------------------------------------------------------------------- the workloads

class Bench:
    def __init__(self, args):
        self.a = args
        self.out = os.path.abspath(args.out)
        self.data = os.path.join(self.out, "data")
        self.backbones = {"vgg16": os.path.join(self.out, "vgg16_features.pt")}
        self.backbones.update({arch: os.path.join(self.out, arch + ".pt") for arch in FAMILIES})
        self.logs = os.path.join(self.out, "logs")
        self.runs = os.path.join(self.out, "runs")
        os.makedirs(self.logs, exist_ok=True)
        os.makedirs(self.runs, exist_ok=True)
        self.counts = {split: len(os.listdir(os.path.join(self.data, folder)))
                       for split, folder in [("train", "training"), ("val", "validation"), ("test", "evaluation")]}
        self.results = {}
        self.checkpoints = {}  # per arch, from the head-only run: for evaluate and predict

    def log(self, name):
        return os.path.join(self.logs, name + ".log")

    def tl_config(self, name, freeze, epochs, arch):
        run_dir = os.path.join(self.runs, name)
        config = {
            "threads": self.a.threads,
            "data": {"root": self.data, "layout": "food11", "workers": self.a.workers},
            "model": {"backbone": self.backbones[arch], "freeze": freeze, "input_size": self.a.size,
                      "head": {"pool": "avg", "hidden": [100], "dropout": [0.2, 0.0]}},
            "optim": {"name": "adam", "lr": 1e-4},
            "train": {"epochs": epochs, "batch_size": self.a.batch, "seed": 42, "out": run_dir},
        }
        path = os.path.join(self.runs, name + ".json")
        with open(path, "w") as f:
            json.dump(config, f, indent=1)
        return path, run_dir

    def train_pair(self, key, freeze, epochs, repeat, arch):
        """One tl-train run and one peer run of the same training job, in turn."""
        sides = {}
        order = ["tl", "peer"] if repeat % 2 == 0 else ["peer", "tl"]
        for side in order:
            name = f"{side}_{key}_{repeat}"
            if side == "tl":
                config, run_dir = self.tl_config(name, freeze, epochs, arch)
                shutil.rmtree(run_dir, ignore_errors=True)
                cmd = [self.a.tl, "train", "--config", config, "--quiet"]
            else:
                run_dir = os.path.join(self.runs, name)
                shutil.rmtree(run_dir, ignore_errors=True)
                cmd = PEER + ["train", "--data", self.data, "--backbone", self.backbones[arch], "--arch", arch,
                              "--freeze", freeze, "--epochs", str(epochs), "--out", run_dir] + self.common()
            history_path = os.path.join(run_dir, "history.json")
            r = run(cmd, self.log(name), history=history_path)
            with open(history_path) as f:
                r["epoch_s"] = [e["seconds"] for e in json.load(f)]
            if side == "tl":
                with open(os.path.join(run_dir, "train.log")) as f:
                    r["feature_cache"] = "Feature cache: on" in f.read()
                if key.endswith("head") and arch not in self.checkpoints:  # kept for evaluate and predict
                    self.checkpoints[arch] = os.path.join(self.out, f"checkpoint_{arch}.pt")
                    shutil.copy(os.path.join(run_dir, "best.pt"), self.checkpoints[arch])
            else:
                r["feature_cache"] = False
            shutil.rmtree(run_dir, ignore_errors=True)  # ~180 MB of checkpoints each
            del r["stdout"]
            sides[side] = r
            print(f"  {name}: {r['wall_s']:.1f} s, epochs {', '.join(f'{s:.1f}' for s in r['epoch_s'])} s",
                  file=sys.stderr)
        return sides

    def common(self):
        return ["--threads", str(self.a.threads), "--workers", str(self.a.workers), "--size", str(self.a.size),
                "--batch", str(self.a.batch)]

    def training(self, key, freeze, epochs, title, arch="vgg16"):
        print(f"({title})", file=sys.stderr)
        runs = {"tl": [], "peer": []}
        for repeat in range(self.a.repeats):
            pair = self.train_pair(key, freeze, epochs, repeat, arch)
            for side in runs:
                runs[side].append(pair[side])
        summary = {}
        for side, rs in runs.items():
            # Epoch 1 includes one-off set-up (oneDNN kernels, first allocations): median of the rest.
            steady = [s for r in rs for s in r["epoch_s"][1:]] or [s for r in rs for s in r["epoch_s"]]
            epoch_s = median(steady)
            cached = rs[0]["feature_cache"]
            epoch_flops = (self.counts["train"] * train_flops(self.a.size, freeze, cached) +
                           self.counts["val"] * eval_flops(self.a.size, freeze, cached)) if arch == "vgg16" else None
            # Whole run: the cache is built once (train, val and test), the peer's frozen layers run every epoch.
            if arch != "vgg16":
                run_flops = None  # FLOPs are counted for VGG16 only
            elif cached:
                run_flops = (sum(self.counts.values()) * sum(conv_flops(self.a.size)[:FROZEN_CONVS[freeze]]) +
                             epochs * epoch_flops + self.counts["test"] * eval_flops(self.a.size, freeze, True))
            else:
                run_flops = epochs * epoch_flops + self.counts["test"] * eval_flops(self.a.size, freeze)
            wall = median([r["wall_s"] for r in rs])
            growth = [r["epoch_rss_mb"][-1] - r["epoch_rss_mb"][1] for r in rs if len(r["epoch_rss_mb"]) > 2]
            summary[side] = {
                "epoch_s": epoch_s,
                "train_images_per_s": self.counts["train"] / epoch_s,
                "wall_s": wall,
                "peak_rss_mb": median([r["peak_rss_mb"] for r in rs]),
                "rss_growth_after_epoch2_mb": median(growth) if growth else None,
                "epoch_gflops_per_s": epoch_flops / epoch_s / 1e9 if epoch_flops else None,
                "run_gflops_per_s": run_flops / wall / 1e9 if run_flops else None,
                "feature_cache": cached,
                "runs": rs,
            }
        self.results[key] = summary

    def evaluate(self, key="evaluate", arch="vgg16", title="(4) evaluate"):
        print(title, file=sys.stderr)
        runs = {"tl": [], "peer": []}
        checkpoint = self.checkpoints[arch]
        for repeat in range(self.a.repeats):
            for side in (["tl", "peer"] if repeat % 2 == 0 else ["peer", "tl"]):
                if side == "tl":
                    cmd = [self.a.tl, "evaluate", "--checkpoint", checkpoint, "--data", self.data, "--split",
                           "train", "--json", "--out", os.path.join(self.runs, "eval")]
                else:
                    cmd = PEER + ["evaluate", "--checkpoint", checkpoint, "--arch", arch, "--data", self.data,
                                  "--split", "train"] + self.common()
                r = run(cmd, self.log(f"{side}_{key}_{repeat}"))
                r["accuracy"] = last_json_line(r.pop("stdout"))["accuracy"]
                runs[side].append(r)
        n = self.counts["train"]
        self.results[key] = {
            side: {"wall_s": median([r["wall_s"] for r in rs]),
                   "images_per_s": n / median([r["wall_s"] for r in rs]),
                   "peak_rss_mb": median([r["peak_rss_mb"] for r in rs]),
                   "accuracy": rs[0]["accuracy"], "runs": rs}
            for side, rs in runs.items()}

    def pipeline(self):
        print("(5) data pipeline", file=sys.stderr)
        result = {}
        for workers in sorted({1, self.a.workers}):
            runs = {"tl": [], "peer": []}
            for repeat in range(self.a.repeats):
                for side in (["tl", "peer"] if repeat % 2 == 0 else ["peer", "tl"]):
                    if side == "tl":
                        cmd = [self.a.tl_bench, "pipeline", self.data, str(self.a.size), str(workers), "3",
                               str(self.a.batch)]
                    else:
                        cmd = PEER + ["pipeline", "--data", self.data, "--epochs", "3", "--workers", str(workers),
                                      "--size", str(self.a.size), "--batch", str(self.a.batch)]
                    r = run(cmd, self.log(f"{side}_pipeline_w{workers}_{repeat}"))
                    r.update(last_json_line(r.pop("stdout")))
                    runs[side].append(r)
            result[f"workers_{workers}"] = {
                side: {"images_per_s": median([r["images_per_s"] for r in rs]),
                       "images_per_s_per_worker": median([r["images_per_s"] for r in rs]) / workers,
                       "peak_rss_mb": median([r["peak_rss_mb"] for r in rs]), "runs": rs}
                for side, rs in runs.items()}
        self.results["pipeline"] = result

    def predict(self):
        print("(6) predict, cold start", file=sys.stderr)
        image = os.path.join(self.data, "evaluation", "0_0.jpg")
        runs = {"tl": [], "peer": []}
        loads = []
        for repeat in range(max(5, self.a.repeats)):
            for side in (["tl", "peer"] if repeat % 2 == 0 else ["peer", "tl"]):
                if side == "tl":
                    r = run([self.a.tl, "predict", "--checkpoint", self.checkpoints["vgg16"], image, "--json"],
                            self.log(f"tl_predict_{repeat}"))
                    r["top"] = last_json_line(r.pop("stdout"))["top"][0]["index"]
                    probe = run([self.a.tl_bench, "load", self.checkpoints["vgg16"]], self.log(f"tl_load_{repeat}"))
                    loads.append(last_json_line(probe["stdout"])["load_s"])
                else:
                    r = run(PEER + ["predict", "--checkpoint", self.checkpoints["vgg16"], image, "--threads",
                                    str(self.a.threads), "--size", str(self.a.size)], self.log(f"peer_predict_{repeat}"))
                    out = last_json_line(r.pop("stdout"))
                    r["top"], r["load_s"], r["import_s"] = out["top"][0], out["load_s"], out["import_s"]
                runs[side].append(r)
        result = {}
        for side, rs in runs.items():
            wall = median([r["wall_s"] for r in rs])
            load = median(loads) if side == "tl" else median([r["load_s"] for r in rs])
            result[side] = {"wall_s": wall, "model_load_s": load, "beyond_load_s": wall - load,
                            "peak_rss_mb": median([r["peak_rss_mb"] for r in rs]), "top1": rs[0]["top"], "runs": rs}
        result["peer"]["import_torch_s"] = median([r["import_s"] for r in runs["peer"]])
        self.results["predict"] = result

    def sgemm(self):
        r = run(PEER + ["sgemm", "--threads", str(self.a.threads)], self.log("sgemm"))
        self.results["sgemm"] = last_json_line(r["stdout"])


# ---------------------------------------------------------------------------- the report

def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{model}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, {platform.system()} {platform.release()}"


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def family_rows(bench):
    """The table of workloads (7) and (8): the other backbone families."""
    lines = ["", "Other backbone families (same data, head, threads and batch; half-frozen = "
             + ", ".join(f"{arch} through `{spec}`" for arch, spec in FAMILIES.items()) + "):", "",
             "| Workload | Figure | tl-train | peer | tl-train advantage | target | met |",
             "|---|---|---|---|---|---|---|"]
    for n, arch in enumerate(FAMILIES, start=7):
        r = bench.results
        if f"{arch}_half" not in r:
            continue
        half, head, ev = r[f"{arch}_half"], r[f"{arch}_head"], r[f"{arch}_evaluate"]
        rows = [  # title, figure, tl, peer, tl-train advantage, target
            ("half-frozen training", "training img/s (epoch incl. validation)", half["tl"]["train_images_per_s"],
             half["peer"]["train_images_per_s"], half["tl"]["train_images_per_s"] / half["peer"]["train_images_per_s"],
             FAMILY_TARGETS["half"]),
            ("head only, 5 epochs", "whole run s", head["tl"]["wall_s"], head["peer"]["wall_s"],
             head["peer"]["wall_s"] / head["tl"]["wall_s"], FAMILY_TARGETS["head"]),
            (f"evaluate {bench.counts['train']} images", "img/s (whole process)", ev["tl"]["images_per_s"],
             ev["peer"]["images_per_s"], ev["peer"]["wall_s"] / ev["tl"]["wall_s"], FAMILY_TARGETS["evaluate"]),
        ]
        for title, figure, t, p, ratio, target in rows:
            lines.append(f"| ({n}) {arch} {title} | {figure} | {t:.1f} | {p:.1f} | {ratio:.2f}x | "
                         f">= {target}x | {'yes' if ratio >= target else '**no**'} |")
    return lines


def report(bench, args, started, load_before):
    r, mm = bench.results, bench.results["sgemm"]
    peak = max(mm["gflops_median"], mm["onednn_gflops_median"])
    rows = []

    def add(workload, metric, tl, peer, ratio, target, tl_extra="", peer_extra=""):
        met = "-" if target is None else ("yes" if ratio >= target else "**no**")
        rows.append(f"| {workload} | {metric} | {tl}{tl_extra} | {peer}{peer_extra} | {ratio:.2f}x | "
                    f"{'-' if target is None else f'>= {target}x'} | {met} |")

    titles = {"full": "(1) full fine-tune", "half": "(2) half-frozen (block3_conv3)",
              "head": "(3) head only, 5 epochs"}
    for key in ("full", "half"):
        t, p = r[key]["tl"], r[key]["peer"]
        add(titles[key], "training img/s (epoch incl. validation)", fmt(t["train_images_per_s"]),
            fmt(p["train_images_per_s"]), t["train_images_per_s"] / p["train_images_per_s"], TARGETS[key])
    t, p = r["head"]["tl"], r["head"]["peer"]
    add(titles["head"], "whole run s (5 epochs + val + test)", fmt(t["wall_s"]), fmt(p["wall_s"]),
        p["wall_s"] / t["wall_s"], TARGETS["head"])
    t, p = r["evaluate"]["tl"], r["evaluate"]["peer"]
    add(f"(4) evaluate {bench.counts['train']} images", "whole process s", fmt(t["wall_s"], 2), fmt(p["wall_s"], 2),
        p["wall_s"] / t["wall_s"], TARGETS["evaluate"])
    for name, w in sorted(r["pipeline"].items()):
        workers = int(name.split("_")[1])
        t, p = w["tl"], w["peer"]
        add(f"(5) data pipeline, {workers} worker{'s' if workers > 1 else ''}", "img/s",
            fmt(t["images_per_s"], 0), fmt(p["images_per_s"], 0), t["images_per_s"] / p["images_per_s"],
            TARGETS["pipeline"] if workers == 1 else None)
    t, p = r["predict"]["tl"], r["predict"]["peer"]
    add("(6) predict 1 image, cold", "whole process s", fmt(t["wall_s"], 2), fmt(p["wall_s"], 2),
        p["wall_s"] / t["wall_s"], None)
    tl_ok = "yes" if t["beyond_load_s"] < 1.0 else "**no**"
    rows.append(f"| (6) predict 1 image, cold | s beyond model load | {t['beyond_load_s']:.2f} | "
                f"{p['beyond_load_s']:.2f} | {p['beyond_load_s'] / t['beyond_load_s']:.2f}x | < 1 s | {tl_ok} |")

    lines = [
        f"# tl-train vs PyTorch peer, {args.size} px",
        "",
        f"Machine: {machine()}; load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end.",
        f"Settings: threads {args.threads}, loader workers {args.workers}, batch {args.batch}, "
        f"{bench.counts['train']} train / {bench.counts['val']} val / {bench.counts['test']} test images of 512x512, "
        f"medians of {args.repeats} alternating runs; {started}.",
        f"Measured matrix-multiply peak ({args.threads} threads, 2048^3 fp32, median): {peak:.0f} GFLOP/s "
        f"(oneDNN matmul, the library of the convolutions: {mm['onednn_gflops_median']:.0f}; the system BLAS, torch.mm: "
        f"{mm['gflops_median']:.0f}). Percentages below are of the higher one.",
        "",
        "| Workload | Figure | tl-train | peer | tl-train advantage | target | met |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Compute and memory of the training workloads (GFLOP/s: FLOPs each side actually computes, "
        "per epoch and over the whole process; % of the matrix-multiply peak):",
        "",
        "| Workload | side | epoch s | epoch GFLOP/s | whole run s | run GFLOP/s | peak RSS MiB | RSS growth after epoch 2 MiB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in ("full", "half", "head"):
        for side in ("tl", "peer"):
            s = r[key][side]
            name = "tl-train" + (" (feature cache)" if s["feature_cache"] else "") if side == "tl" else "peer"
            lines.append(f"| {titles[key]} | {name} | {s['epoch_s']:.2f} | {s['epoch_gflops_per_s']:.1f} "
                         f"({100 * s['epoch_gflops_per_s'] / peak:.0f}%) | {s['wall_s']:.1f} | "
                         f"{s['run_gflops_per_s']:.1f} ({100 * s['run_gflops_per_s'] / peak:.0f}%) | "
                         f"{s['peak_rss_mb']:.0f} | {fmt(s['rss_growth_after_epoch2_mb'])} |")
    lines += family_rows(bench)
    ev, pr = r["evaluate"], r["predict"]
    lines += [
        "",
        f"Peak RSS (largest process): evaluate tl-train {ev['tl']['peak_rss_mb']:.0f} MiB, peer "
        f"{ev['peer']['peak_rss_mb']:.0f} MiB; predict tl-train {pr['tl']['peak_rss_mb']:.0f} MiB, peer "
        f"{pr['peer']['peak_rss_mb']:.0f} MiB. Predict model load: tl-train {pr['tl']['model_load_s']:.2f} s, "
        f"peer torch.jit.load {pr['peer']['model_load_s']:.2f} s (after {pr['peer']['import_torch_s']:.2f} s "
        "importing torch).",
        "Training img/s = training images / epoch seconds, where an epoch includes its validation pass on both "
        "sides (epoch 1 left out). With the feature cache, tl-train computes the frozen layers once per image "
        "before epoch 1; that time is in the whole-run figures, not in the epoch ones.",
    ]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--tl", required=True, help="the tl-train binary")
    p.add_argument("--tl-bench", required=True, help="the tl_bench binary")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3, help="epochs of workloads 1 and 2")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--only", help="comma-separated subset of full,half,head,evaluate,pipeline,predict,"
                                  + ",".join(FAMILIES) + " (debugging)")
    args = p.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()[0]
    bench = Bench(args)
    only = set(args.only.split(",")) if args.only else None
    want = lambda name: only is None or name in only  # noqa: E731
    bench.sgemm()
    if want("full"):
        bench.training("full", "none", args.epochs, "1) full fine-tune")
    if want("half"):
        bench.training("half", "block3_conv3", args.epochs, "2) half-frozen")
    if want("head") or want("evaluate") or want("predict"):
        bench.training("head", "all", 5, "3) head only, 5 epochs")
    if want("evaluate"):
        bench.evaluate()
    if want("pipeline"):
        bench.pipeline()
    if want("predict"):
        bench.predict()
    for n, (arch, half) in enumerate(FAMILIES.items(), start=7):
        if want(arch):
            bench.training(f"{arch}_half", half, args.epochs, f"{n}) {arch} half-frozen", arch)
            bench.training(f"{arch}_head", "all", 5, f"{n}) {arch} head only, 5 epochs", arch)
            bench.evaluate(f"{arch}_evaluate", arch, f"({n}) {arch} evaluate")
    with open(os.path.join(bench.out, "report.json"), "w") as f:
        json.dump({"settings": vars(args), "machine": machine(), "started": started, "counts": bench.counts,
                   "results": bench.results}, f, indent=1)
    if only is None:
        text = report(bench, args, started, load_before)
        with open(os.path.join(bench.out, "report.md"), "w") as f:
            f.write(text)
        print(text)
    else:
        print(json.dumps({k: {s: {m: v for m, v in d.items() if m != "runs"} if isinstance(d, dict) else d
                              for s, d in r.items()} for k, r in bench.results.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
