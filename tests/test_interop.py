#!/usr/bin/env python3
"""A tl-train checkpoint runs in Python with nothing but torch.jit.load (issue 4).

Usage (CTest runs it): test_interop.py TL_TRAIN_BINARY SOURCE_DIR

For two normalisations (imagenet: RGB, 1/255, mean/std; caffe: BGR, 0-255, mean only) on a VGG16,
and for a ResNet-18 and an EfficientNet-B0: trains a tiny model with the tl-train binary on a
generated dataset (narrow random-weight backbones from scripts/export_backbone.py), loads best.pt
with torch.jit.load, reads tl_meta.json, normalises PNG pixels as recorded there, and checks the
probabilities and the logits against `tl-train predict --json` on the same files (max abs diff
< 1e-5). The PNGs are written at the model's input size, so resizing is a no-op and both sides see
identical pixels. For the non-VGG families it also loads the fine-tuned backbone back into
torchvision's class with strict=True, as docs/backbones.md shows, and checks that torchvision's
feature map then gives the checkpoint's logits.

Exits 77 (CTest SKIP_RETURN_CODE) when torch, numpy or PIL is not importable.
"""

import json
import math
import os
import subprocess
import sys
import tempfile

SKIP = 77
TOLERANCE = 1e-5
INPUT_SIZE = 32
PALETTE = [(230, 40, 40), (40, 200, 40), (40, 40, 220)]  # one colour per class (RGB)

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:
    print(f"SKIP: {e}; the Python interop test needs python3-torch, numpy and PIL "
          f"(Debian: apt-get install python3-torchvision; this is {sys.executable})")
    sys.exit(SKIP)


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def class_image(label, rng):
    noise = rng.normal(0, 25, size=(INPUT_SIZE, INPUT_SIZE, 3))
    return np.clip(np.array(PALETTE[label]) + noise, 0, 255).astype(np.uint8)


def write_dataset(root, rng):
    """A food11 tree: training/, validation/ and evaluation/ with <label>_<n>.png files."""
    for split, count in (("training", 8), ("validation", 2), ("evaluation", 2)):
        os.makedirs(os.path.join(root, split))
        for label in range(len(PALETTE)):
            for i in range(count):
                Image.fromarray(class_image(label, rng)).save(os.path.join(root, split, f"{label}_{i}.png"))


def preprocess(pixels, norm):
    """H x W x 3 RGB uint8 -> 1 x 3 x H x W float, as tl_meta.json's normalization says:
    channel order, then x * scale, then (x - mean) / std per channel."""
    x = pixels.astype(np.float64)
    if norm["channel_order"] == "BGR":
        x = x[:, :, ::-1]
    x = (x * norm["scale"] - np.array(norm["mean"])) / np.array(norm["std"])
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).float().unsqueeze(0)


def preprocess_as_cpp(pixels, norm):
    """The same values computed as tl-train computes them (float32 x * (scale / std) + (-mean / std)),
    so both sides feed the model identical input. The formula above differs from it by float32
    rounding only, which the caffe preset's 0-255 range carries into the logits as ~1e-6."""
    x = pixels.astype(np.float32)
    if norm["channel_order"] == "BGR":
        x = x[:, :, ::-1]
    mean, std = np.array(norm["mean"]), np.array(norm["std"])
    x = x * (norm["scale"] / std).astype(np.float32) + (-mean / std).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).unsqueeze(0)


def export_backbone(source_dir, arch, out):
    if not os.path.exists(out):
        only = ["--features-only"] if arch.startswith("vgg") else []
        run([sys.executable, os.path.join(source_dir, "scripts", "export_backbone.py"), "--arch", arch,
             "--weights", "random", "--seed", "0", "--width-div", "16", "--out", out] + only)


def torchvision_network(source_dir, arch):
    """The same narrow torchvision class the export script builds (not its weights)."""
    sys.path.insert(0, os.path.join(source_dir, "scripts"))
    import export_backbone
    return export_backbone.build_random(arch, seed=123, width_div=16)


def check_torchvision_reload(source_dir, arch, model, x, logits):
    """The two lines of docs/backbones.md: strip `backbone.` and load into torchvision strictly."""
    state = {k[len("backbone."):]: v for k, v in model.state_dict().items() if k.startswith("backbone.")}
    network = torchvision_network(source_dir, arch)
    network.load_state_dict(state, strict=True)
    network.eval()
    features = network.features if hasattr(network, "features") else torch.nn.Sequential(*list(network.children())[:-2])
    head = dict(model.named_parameters())
    with torch.no_grad():
        h = torch.relu(torch.nn.functional.linear(features(x).mean((2, 3)), head["head_w0"], head["head_b0"]))
        out = torch.nn.functional.linear(h, head["head_w1"], head["head_b1"])
    diff = (out - logits).abs().max().item()
    print(f"{arch}: reloaded into torchvision with strict=True; logits through its features differ by {diff:.2e}")
    assert diff < TOLERANCE, f"torchvision's {arch} with the fine-tuned weights gives other logits ({diff})"


def check(binary, source_dir, work, normalize, arch):
    backbone = os.path.join(work, f"{arch}.pt")
    export_backbone(source_dir, arch, backbone)
    data = os.path.join(work, "data")
    if not os.path.exists(data):
        write_dataset(data, np.random.default_rng(1))
    run_dir = os.path.join(work, f"run_{arch}_{normalize}")
    config = {
        "threads": 1,  # two OpenMP threads crawl on a busy 2-core machine
        "data": {"root": data, "layout": "food11", "workers": 2, "normalize": normalize},
        "model": {"backbone": backbone, "input_size": INPUT_SIZE, "freeze": "none",
                  "head": {"pool": "avg", "hidden": [16], "dropout": 0.0}},
        "optim": {"name": "adam", "lr": 0.001},
        "train": {"epochs": 2, "batch_size": 8, "seed": 3, "out": run_dir, "eval_test": False},
    }
    config_path = os.path.join(work, f"{arch}_{normalize}.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    run([binary, "train", "--config", config_path, "--quiet"])
    checkpoint = os.path.join(run_dir, "best.pt")

    # Python: nothing but torch.jit.load and the recorded metadata.
    extra = {"tl_meta.json": ""}
    model = torch.jit.load(checkpoint, _extra_files=extra)
    assert not model.training, "checkpoints are saved in eval mode"
    meta = json.loads(extra["tl_meta.json"])
    assert meta["classes"] == ["0", "1", "2"], meta["classes"]
    assert meta["input_size"] == INPUT_SIZE, meta["input_size"]
    norm = meta["normalization"]
    for key in ("channel_order", "scale", "mean", "std"):
        assert key in norm, f"tl_meta.json normalization lacks {key}: {norm}"

    # One image per class plus one of random pixels, at the input size: resizing is a no-op.
    rng = np.random.default_rng(5)
    images = [class_image(label, rng) for label in range(len(PALETTE))]
    images.append(rng.integers(0, 256, size=(INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8))
    paths = []
    for i, pixels in enumerate(images):
        paths.append(os.path.join(work, f"probe_{arch}_{normalize}_{i}.png"))
        Image.fromarray(pixels).save(paths[-1])
        assert np.array_equal(np.asarray(Image.open(paths[-1]).convert("RGB")), pixels)

    # predict runs these four images as one batch; so does Python, on the same input values
    # (convolutions may sum in another order for another batch size).
    lines = run([binary, "predict", "--checkpoint", checkpoint, "--json", "--top-k", "3"] + paths).splitlines()
    assert len(lines) == len(paths), lines
    x = torch.cat([preprocess_as_cpp(pixels, norm) for pixels in images])
    x_documented = torch.cat([preprocess(pixels, norm) for pixels in images])
    assert (x - x_documented).abs().max().item() < 1e-4, "the recorded normalization is not what tl-train computes"
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (len(paths), len(meta["classes"])), logits.shape
    probs = torch.softmax(logits.double(), 1)
    worst_prob = worst_logit = 0.0
    for row, (path, line) in enumerate(zip(paths, lines)):
        cpp = json.loads(line)
        assert cpp["path"] == path, (cpp["path"], path)
        assert len(cpp["top"]) == len(meta["classes"])
        cpp_probs = {}
        for entry in cpp["top"]:
            assert meta["classes"][entry["index"]] == entry["label"], entry
            cpp_probs[entry["index"]] = entry["prob"]
        assert cpp["top"][0]["index"] == int(probs[row].argmax()), (cpp, probs[row])
        for index in cpp_probs:
            worst_prob = max(worst_prob, abs(probs[row, index].item() - cpp_probs[index]))
        # predict prints probabilities, which hide a common shift of the logits: compare the
        # logits through their differences, z_i - z_0 = log p_i - log p_0.
        for index in range(1, len(meta["classes"])):
            cpp_diff = math.log(cpp_probs[index]) - math.log(cpp_probs[0])
            worst_logit = max(worst_logit, abs((logits[row, index] - logits[row, 0]).item() - cpp_diff))
    print(f"{arch}, {normalize}: channel_order {norm['channel_order']}, scale {norm['scale']}: over {len(paths)} images "
          f"max |p_python - p_cpp| = {worst_prob:.2e}, max logit difference = {worst_logit:.2e}")
    assert worst_prob < TOLERANCE, f"Python and C++ probabilities differ by {worst_prob} (limit {TOLERANCE})"
    assert worst_logit < TOLERANCE, f"Python and C++ logits differ by {worst_logit} (limit {TOLERANCE})"
    if not arch.startswith("vgg"):
        check_torchvision_reload(source_dir, arch, model, x, logits)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, source_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="tl_interop_") as work:
        # imagenet: RGB, scale 1/255, mean/std; caffe: BGR, scale 1, mean subtraction only.
        for normalize in ("imagenet", "caffe"):
            check(binary, source_dir, work, normalize, "vgg16")
        for arch in ("resnet18", "efficientnet_b0"):
            check(binary, source_dir, work, "imagenet", arch)
    print("PASS")


if __name__ == "__main__":
    main()
