"""The MNIST ResNet: labels, confidences and features (penultimate layer) for any digits in the
generator's range [-1, 1]. Its features are the space every metric is measured in (Inception
weights cannot be downloaded here), so the network is shipped in trained/ with its checksum.

Architecture: 3×3 stem (32 @28²) → BasicBlocks 64 @14² ×2 → 128 @7² ×2 → global average pool →
128-d features → linear 10 (0.6 M parameters, ~100 MFLOP per digit forward). Trained on the 50k train split with light affine
augmentation; the epoch with the best valid accuracy is kept; reported on the 10k test split.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import CheckpointError
from core.eval.score_files import META, WEIGHTS  # the classifier's files (read without torch there)
from core.store.checkpoint import file_sha256
from core.store.mnist import load_split, to_model_range

FEATURE_DIM = 128


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.short(x))


class Classifier(nn.Module):
    def __init__(self, widths=(32, 64, 128)):
        super().__init__()
        a, b, c = widths
        self.stem = nn.Sequential(nn.Conv2d(1, a, 3, 1, 1, bias=False), nn.BatchNorm2d(a), nn.ReLU())
        self.body = nn.Sequential(Block(a, b, 2), Block(b, b), Block(b, c, 2), Block(c, c))
        self.fc = nn.Linear(c, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N×128) of digits in [-1, 1], shaped N×784 or N×1×28×28."""
        x = x.reshape(-1, 1, 28, 28).contiguous(memory_format=torch.channels_last)
        return self.body(self.stem(x)).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


# ---- inference --------------------------------------------------------------------------------
@torch.no_grad()
def predict(model: Classifier, x: torch.Tensor, batch: int = 32, features: bool = False) -> dict:
    """{"labels", "confidence", "probs"[, "features"]} for N digits, in batches of 32: its
    activations (≤ 3.2 MB a layer) stay in the heap where the dashboard's lean allocator would map
    and unmap larger ones on every layer (10k digits on 2 cores, 2026-12-07: 7.4 s at 32 vs 11 s at
    256 in the server; 6.4 vs 6.8 s in a plain process)."""
    model.eval()
    dev = next(model.parameters()).device
    out: dict[str, list] = {"labels": [], "confidence": [], "probs": [], "features": []}
    for i in range(0, len(x), batch):
        f = model.features(x[i:i + batch].to(dev, torch.float32))
        p = model.fc(f).softmax(1)
        conf, lab = p.max(1)
        out["labels"].append(lab.cpu())
        out["confidence"].append(conf.cpu())
        out["probs"].append(p.cpu())
        if features:
            out["features"].append(f.cpu())
    return {k: torch.cat(v) for k, v in out.items() if v}


def load_classifier(path: str | Path | None = None, device="cpu", verify: bool = True) -> Classifier:
    """The shipped classifier (or `path`), checked against its recorded sha256."""
    path = Path(path) if path else WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"no classifier at {path}; train one with `python -m core classifier train`")
    if verify and path == WEIGHTS and META.is_file():
        want = json.loads(META.read_text()).get("sha256")
        if want and file_sha256(path) != want:
            raise CheckpointError(f"{path} does not match the sha256 in {META.name}; restore it with git "
                                  "or retrain with `python -m core classifier train`")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        model = Classifier()
        model.load_state_dict(state)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a valid classifier ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:120]})") from None
    return model.to(device, memory_format=torch.channels_last).eval()


# ---- training ---------------------------------------------------------------------------------
def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random affine per digit: rotation ±10°, scale 0.9–1.1, shift ±2 px (batched grid_sample)."""
    n = x.shape[0]
    r = lambda lo, hi: torch.rand(n, generator=gen) * (hi - lo) + lo  # noqa: E731
    ang, sc = r(-10, 10) * math.pi / 180, r(0.9, 1.1)
    tx, ty = r(-2, 2) / 14, r(-2, 2) / 14
    theta = torch.stack([torch.stack([torch.cos(ang) / sc, -torch.sin(ang) / sc, tx], 1),
                         torch.stack([torch.sin(ang) / sc, torch.cos(ang) / sc, ty], 1)], 1).to(x.device)
    grid = F.affine_grid(theta, (n, 1, 28, 28), align_corners=False)
    # pad with background (-1): shift to [0, 2] so zero padding is background, then back
    return F.grid_sample(x.view(n, 1, 28, 28) + 1, grid, align_corners=False, padding_mode="zeros") - 1


def accuracy(model: Classifier, split: str, device="cpu") -> float:
    x, y = load_split(split)
    pred = predict(model, to_model_range(x))["labels"]
    return (pred == torch.as_tensor(y)).float().mean().item()


def train_classifier(epochs: int = 8, batch_size: int = 128, lr: float = 0.05, seed: int = 0, device="cpu",
                     out: Path | None = WEIGHTS, progress: bool = True, limit: int | None = None) -> dict:
    """SGD (Nesterov, wd 5e-4) with a one-cycle schedule; keeps the best-valid epoch.
    Writes weights + metadata to `out` (the shipped location by default)."""
    from tqdm.auto import tqdm
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xs, ys = load_split("train")
    if limit:
        xs, ys = xs[:limit], ys[:limit]
    x, y = to_model_range(xs).to(device), torch.as_tensor(ys).to(device)
    model = Classifier().to(device, memory_format=torch.channels_last)  # faster convolutions on CPU
    steps = epochs * (len(x) // batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    best, best_state, t0, history = -1.0, None, time.time(), []
    bar = tqdm(total=steps, disable=not progress, unit="step", desc="classifier", dynamic_ncols=True)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen).to(device)
        for i in range(len(x) // batch_size):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(augment(x[idx], gen)), y[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            if i % 50 == 0:
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", refresh=False)
        val = accuracy(model, "valid")
        history.append({"epoch": epoch + 1, "valid_accuracy": val})
        bar.write(f"epoch {epoch + 1}: valid accuracy {val:.4f}")
        if val > best:
            best, best_state = val, {k: v.detach().clone() for k, v in model.state_dict().items()}
    bar.close()
    model.load_state_dict(best_state)
    meta = {"valid_accuracy": best, "test_accuracy": accuracy(model, "test"), "feature_dim": FEATURE_DIM,
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "seconds": round(time.time() - t0),
            "history": history, "torch": torch.__version__,
            "command": f"python -m core classifier train --epochs {epochs} --batch-size {batch_size} "
                       f"--lr {lr} --seed {seed}"}
    if out is not None:
        from core.store.checkpoint import save_atomic
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_atomic({k: v.cpu().contiguous() for k, v in model.state_dict().items()}, out)
        meta["sha256"] = file_sha256(out)
        meta["file"] = out.name
        from core.store.files import write_json_atomic
        write_json_atomic(out.with_suffix(".json"), meta)
    return meta
