#!/usr/bin/env python3
"""The benchmark's peer: the jobs tl-train does, written as a PyTorch user would write them.

torchvision's VGG16 `features` (or ResNet-50's conv1 .. layer4, or EfficientNet-B0's `features`;
weights copied from the exported TorchScript backbone, so both sides start from the same
numbers), the head of configs/food11_half.json (average pool -> dropout 0.2 -> dense 100 + ReLU
-> dense 11), Adam, PIL decoding, torchvision transforms and a DataLoader with worker processes.
Frozen layers are put in eval mode, so that a frozen BatchNorm keeps its statistics, as tl-train
does. Subcommands:

  train     --data D --backbone B --arch A --freeze SPEC ...         -> OUT/history.json
            [--nproc N: DistributedDataParallel over N Gloo processes on 127.0.0.1, training only]
  evaluate  --data D --checkpoint tl-train.pt --arch A --split train -> metrics on stdout (JSON)
  pipeline  --data D --workers W --epochs E                          -> images/s (JSON)
  predict   --checkpoint tl-train.pt IMAGE                           -> top-5 + load time (JSON)
  sgemm                                                              -> 2048^2 matmul GFLOP/s, BLAS and oneDNN (JSON)

Every subcommand takes --threads (torch.set_num_threads). Run with /usr/bin/python3 (Debian's
python3-torchvision).
"""

import argparse
import json
from collections import OrderedDict
import os
import sys
import time

T_START = time.perf_counter()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import transforms  # noqa: E402

T_IMPORTED = time.perf_counter()

SPLITS = {"train": "training", "val": "validation", "test": "evaluation"}
# Keras layer name -> how many leading modules of torchvision's vgg16().features it freezes
# (the conv and its ReLU). Other families take the name of the last frozen stage, or all/none.
VGG_FREEZE = {"none": 0, "block3_conv3": 16, "all": 31}
RESNET_STAGES = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
WIDTHS = {"vgg16": 512, "resnet50": 2048, "efficientnet_b0": 1280}
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def write_json(path, value):
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=1)
    os.replace(path + ".tmp", path)


class Food11(Dataset):
    """OUT/<split>/<label>_<n>.jpg, as torchvision.datasets.ImageFolder would read it."""

    def __init__(self, root, split, size):
        folder = os.path.join(root, SPLITS[split])
        self.files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
        self.labels = [int(os.path.basename(f).split("_")[0]) for f in self.files]
        self.transform = transforms.Compose([
            transforms.Resize((size, size)),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as img:
            return self.transform(img.convert("RGB")), self.labels[i]


def loader(args, split, shuffle):
    return DataLoader(Food11(args.data, split, args.size), batch_size=args.batch, shuffle=shuffle,
                      num_workers=args.workers, persistent_workers=args.workers > 0)


def feature_extractor(arch):
    """The part of torchvision's network before its pooling and classifier, with its own names."""
    net = getattr(torchvision.models, arch)()
    if arch == "resnet50":
        return nn.Sequential(OrderedDict((name, getattr(net, name)) for name in RESNET_STAGES))
    return net.features


def make_model(arch="vgg16", classes=11):
    model = nn.Sequential(
        feature_extractor(arch),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.2), nn.Linear(WIDTHS[arch], 100), nn.ReLU(),
        nn.Dropout(0.0), nn.Linear(100, classes),
    )
    for layer in (model[4], model[7]):  # Keras' Dense init, as tl-train's head
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    return model


def frozen_modules(model, arch, freeze):
    """The leading modules of the feature extractor that `freeze` (a tl-train spec) freezes."""
    features = model[0]
    if arch == "vgg16":
        return features[:VGG_FREEZE[freeze]]
    names = list(features._modules)
    count = {"none": 0, "all": len(names)}.get(freeze)
    return features[:names.index(freeze.split(".")[-1]) + 1 if count is None else count]


def load_backbone(model, path, arch="vgg16"):
    """Copies the backbone from a TorchScript file (exported backbone or tl-train checkpoint)."""
    state = torch.jit.load(path, map_location="cpu").state_dict()
    prefix = "backbone." if any(k.startswith("backbone.") for k in state) else ""
    prefix += "" if arch == "resnet50" else "features."
    wanted = model[0].state_dict().keys()
    model[0].load_state_dict({k[len(prefix):]: v for k, v in state.items()
                              if k.startswith(prefix) and k[len(prefix):] in wanted})
    if "head_w0" in state:  # a tl-train checkpoint: its head too
        for i, layer in enumerate((model[4], model[7])):
            layer.weight.data.copy_(state[f"head_w{i}"])
            layer.bias.data.copy_(state[f"head_b{i}"])


def run_eval(model, data):
    model.eval()
    loss_sum, correct, total = 0.0, 0, 0
    confusion = torch.zeros(11, 11, dtype=torch.long)
    with torch.no_grad():
        for x, y in data:
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            pred = logits.argmax(1)
            correct += (pred == y).sum().item()
            total += len(y)
            confusion += torch.bincount(y * 11 + pred, minlength=121).view(11, 11)
    return {"loss": loss_sum / total, "accuracy": correct / total, "total": total,
            "confusion_matrix": confusion.tolist()}


def model_to_train(args):
    """The seeded model with the exported backbone's weights and its frozen part; returns both."""
    torch.manual_seed(args.seed)
    model = make_model(args.arch)
    load_backbone(model, args.backbone, args.arch)
    frozen = frozen_modules(model, args.arch, args.freeze)
    for p in frozen.parameters():
        p.requires_grad = False
    return model, frozen


def cmd_train(args):
    if args.nproc > 1:
        import torch.multiprocessing as mp
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(args.master_port))
        mp.spawn(ddp_train, args=(args,), nprocs=args.nproc)
        return
    model, frozen = model_to_train(args)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    train_data, val_data = loader(args, "train", True), loader(args, "val", False)
    os.makedirs(args.out, exist_ok=True)
    best_path = os.path.join(args.out, "best.pth")
    history, best = [], float("inf")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        model.train()
        frozen.eval()  # frozen BatchNorm: running statistics used, not updated
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in train_data:
            optimizer.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        train_seconds = time.perf_counter() - start
        val = run_eval(model, val_data)
        seconds = time.perf_counter() - start
        if val["loss"] < best:
            best = val["loss"]
            torch.save(model.state_dict(), best_path)
        history.append({"epoch": epoch, "loss": loss_sum / seen, "acc": correct / seen, "val_loss": val["loss"],
                        "val_acc": val["accuracy"], "seconds": seconds, "train_seconds": train_seconds})
        write_json(os.path.join(args.out, "history.json"), history)  # each epoch, as tl-train does
        print(f"epoch {epoch}: {seconds:.1f}s loss {loss_sum / seen:.4f} val_loss {val['loss']:.4f}", file=sys.stderr)
    model.load_state_dict(torch.load(best_path))
    write_json(os.path.join(args.out, "test.json"), run_eval(model, loader(args, "test", False)))


def ddp_train(rank, args):
    """One rank of DistributedDataParallel (Gloo, CPU) as its tutorial writes it: a
    DistributedSampler shards each epoch, DDP averages the gradients in buckets during backward.
    Rank 0 writes the epochs' training times; no validation or test (the scaling benchmark times
    training alone)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data.distributed import DistributedSampler
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=args.nproc)
    model, frozen = model_to_train(args)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    dataset = Food11(args.data, "train", args.size)
    sampler = DistributedSampler(dataset, shuffle=True, seed=args.seed)
    data = DataLoader(dataset, batch_size=args.batch, sampler=sampler, num_workers=args.workers,
                      persistent_workers=args.workers > 0)
    history = []
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        dist.barrier()
        start = time.perf_counter()
        model.train()
        frozen.eval()
        for x, y in data:
            optimizer.zero_grad()
            F.cross_entropy(ddp(x), y).backward()
            optimizer.step()
        dist.barrier()
        history.append({"epoch": epoch, "train_seconds": time.perf_counter() - start})
        if rank == 0:
            os.makedirs(args.out, exist_ok=True)
            write_json(os.path.join(args.out, "history.json"), history)
    dist.destroy_process_group()


def cmd_evaluate(args):
    model = make_model(args.arch)
    load_backbone(model, args.checkpoint, args.arch)
    result = run_eval(model, loader(args, args.split, False))
    print(json.dumps(result))


def cmd_pipeline(args):
    data = loader(args, "train", False)
    start = time.perf_counter()
    images = 0
    for _ in range(args.epochs):
        for x, _y in data:
            images += len(x)
    seconds = time.perf_counter() - start
    print(json.dumps({"images": images, "seconds": seconds, "images_per_s": images / seconds}))


def cmd_predict(args):
    start = time.perf_counter()
    model = torch.jit.load(args.checkpoint, map_location="cpu").eval()
    load_s = time.perf_counter() - start
    transform = transforms.Compose([transforms.Resize((args.size, args.size)), transforms.ToTensor(),
                                    transforms.Normalize(MEAN, STD)])
    with torch.no_grad():
        with Image.open(args.image) as img:
            x = transform(img.convert("RGB")).unsqueeze(0)
        top = torch.softmax(model(x), 1).topk(5)
    print(json.dumps({"top": top.indices[0].tolist(), "prob": top.values[0].tolist(), "load_s": load_s,
                      "import_s": T_IMPORTED - T_START, "script_s": time.perf_counter() - T_START}))


def cmd_sgemm(args):
    """The machine's matrix-multiply peak, two ways: torch.mm (the system BLAS, which the dense
    layers use) and the same product in oneDNN, the library that runs the convolutions (on a
    CPU with full-width AVX-512 it ran ~1.7x faster than OpenBLAS)."""
    def gflops(fn):
        fn()  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        times.sort()
        return 2 * 2048 ** 3 / times[len(times) // 2] / 1e9, 2 * 2048 ** 3 / times[0] / 1e9

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    blas_median, blas_best = gflops(lambda: torch.mm(a, b))
    x, w = torch.randn(2048, 2048).to_mkldnn(), torch.randn(2048, 2048).to_mkldnn()
    with torch.no_grad():
        onednn_median, onednn_best = gflops(lambda: torch._C._nn.mkldnn_linear(x, w))
    print(json.dumps({"gflops_median": blas_median, "gflops_best": blas_best,
                      "onednn_gflops_median": onednn_median, "onednn_gflops_best": onednn_best}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    commands = {}
    for name, fn in [("train", cmd_train), ("evaluate", cmd_evaluate), ("pipeline", cmd_pipeline),
                     ("predict", cmd_predict), ("sgemm", cmd_sgemm)]:
        s = sub.add_parser(name)
        s.add_argument("--threads", type=int, default=2)
        s.add_argument("--size", type=int, default=64)
        s.add_argument("--batch", type=int, default=32)
        s.add_argument("--workers", type=int, default=2)
        s.add_argument("--arch", choices=sorted(WIDTHS), default="vgg16")
        commands[name] = (s, fn)
    s = commands["train"][0]
    s.add_argument("--data", required=True)
    s.add_argument("--backbone", required=True)
    s.add_argument("--freeze", default="none", help="none, all, block3_conv3 (VGG16) or a stage name (layer2, features.4)")
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--lr", type=float, default=1e-4)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--out", required=True)
    s.add_argument("--nproc", type=int, default=1, help="data parallel over this many processes (DDP, Gloo)")
    s.add_argument("--master-port", type=int, default=29733)
    s = commands["evaluate"][0]
    s.add_argument("--data", required=True)
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--split", choices=sorted(SPLITS), default="train")
    s = commands["pipeline"][0]
    s.add_argument("--data", required=True)
    s.add_argument("--epochs", type=int, default=2)
    s = commands["predict"][0]
    s.add_argument("--checkpoint", required=True)
    s.add_argument("image")
    commands["sgemm"][0].add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    commands[args.command][1](args)


if __name__ == "__main__":
    main()
