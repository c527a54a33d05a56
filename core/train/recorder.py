"""The training timeline's recorder: at the end of every `eval_every`-th epoch and of the last
one, the trainer calls `Recorder`, which scores the sampled generator on fixed noise and places
its digits on a fixed map (core/train/timeline.py reads the records back, plays and ships them).

On fixed noise (`eval_n` codes drawn from the prior with a seeded generator: the
same ε and components at every record; a learnable prior's codes follow its current μ, σ) the
sampled generator (the EMA one when `ema` is on) makes digits that the classifier reads:
- scores: FID against the 10k test digits' Gaussian fit; precision / recall / density /
  coverage against the frame's N_FRAME test digits (a real set as large as the default
  eval_n); the class histogram, its KL to uniform, mean confidence, conditional accuracy.
  With `ema` on, the live (raw) generator is scored on the same noise too (`tl_raw_*`, twice
  the cost): the EMA's effect at every epoch of one training run.
  They are rows of the run's metrics store under `tl_*` keys at the step of the epoch's end,
  so a resume (which drops the rows after its checkpoint) keeps the timeline whole. At n 1000
  they are not the leaderboard's n 10k numbers: FID is biased upward at small n.
- the map: one fixed 2-D frame per classifier, UMAP fitted once on the classifier features of
  N_FRAME test digits (cached on disk). Each record places its first MAP_N digits in that frame
  with UMAP's transform initialisation: each new point goes to the membership-weighted mean
  of the frame positions of its FRAME_K nearest real digits (weights exp(−d/σ), σ chosen so they
  sum to log2 k, as umap-learn's `transform` starts), without the refinement epochs that make
  `transform` 4 s per record here. The real digits never move: the frame is fitted once.
  runs/<id>/timeline/epoch_XXXX.npz holds xy (float16), label, confidence (uint8, ×255) and
  component: about 11 KB per record at MAP_N 1000; frame.npz holds the real digits' positions.
"""
from __future__ import annotations

import io
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from core.errors import CheckpointError
from core.eval.names import METRICS
from core.track.base import TIMELINE_PREFIX as PREFIX  # one definition: the trackers read it too

N_FRAME = 2000  # real test digits: the frame of the map (and the real set of precision / recall)
FRAME_K = 15  # neighbours: of the frame's UMAP and of each placed digit
MAP_N = 1000  # digits per record placed on the map (scores use all eval_n)
VERSION = 1
SCALARS = (*METRICS, "confidence", "cond_acc")
RAW = PREFIX + "raw_"  # with ema on, the raw (live) generator's scores on the same noise: EMA's effect, per epoch
KEYS = ([PREFIX + k for k in (*SCALARS, "n", "seconds", "train_s")] + [f"{PREFIX}hist_{d}" for d in range(10)]
        + [RAW + k for k in SCALARS])


# ---------------------------------------------------------------- the fixed frame
def _frame_path(sha: str) -> Path:
    from core.eval.score_files import cache_dir
    return cache_dir() / "timeline" / f"frame_v{VERSION}_{sha[:16]}.npz"


def frame() -> dict:
    """The map's fixed frame: {idx, xy (N_FRAME×2), label, features (N_FRAME×d)} of the test
    digits that define it. The UMAP fit (a few seconds) is done once per classifier and cached."""
    from core.eval.score import reference
    from core.eval.score_files import classifier_sha
    from core.explore.maps import _umap
    from core.store.files import write_bytes_atomic
    sha = classifier_sha()
    ref = reference()
    idx = np.sort(np.random.default_rng(0).choice(len(ref["features"]), size=N_FRAME, replace=False))
    feats = ref["features"][idx].float()
    path = _frame_path(sha)
    xy = None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                if np.array_equal(f["idx"], idx):
                    xy = f["xy"]
        except (OSError, ValueError, KeyError):
            xy = None  # a damaged cache is refitted
    if xy is None:
        xy = np.ascontiguousarray(_umap(feats.numpy(), 0, FRAME_K), dtype=np.float32)
        buf = io.BytesIO()
        np.savez(buf, idx=idx, xy=xy)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, buf.getvalue())
    return {"idx": idx, "xy": xy, "label": ref["labels"][idx].numpy().astype(np.uint8), "features": feats}


def _sigmas(d: torch.Tensor, iters: int = 64) -> torch.Tensor:
    """Per row of distances d (N×k), σ with Σ_j exp(−d_j/σ) = log2 k (umap-learn's
    smooth_knn_dist with local connectivity 0, as its transform uses), by bisection."""
    target = math.log2(d.shape[1])
    lo, hi = torch.zeros(len(d), dtype=d.dtype), torch.full((len(d),), float("inf"), dtype=d.dtype)
    mid = torch.ones(len(d), dtype=d.dtype)
    for _ in range(iters):
        s = torch.exp(-d / mid[:, None]).sum(1)
        big = s > target  # too wide a kernel: shrink σ
        hi = torch.where(big, mid, hi)
        lo = torch.where(big, lo, mid)
        mid = torch.where(torch.isinf(hi), mid * 2, (lo + hi) / 2)
    return torch.maximum(mid, 1e-3 * d.mean(1))


def place(features, fr: dict, k: int = FRAME_K) -> np.ndarray:
    """Positions (N×2 float32) in the frame `fr` of digits with these classifier features."""
    q = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    r = fr["features"].double()
    d2 = (q * q).sum(1, keepdim=True) + (r * r).sum(1)[None] - 2 * q @ r.T
    d, j = d2.clamp_min(0).topk(k, dim=1, largest=False)
    d = d.sqrt()
    w = torch.exp(-d / _sigmas(d)[:, None])
    w = w / w.sum(1, keepdim=True)
    xy = torch.as_tensor(fr["xy"], dtype=torch.float64)[j]  # N×k×2
    return (w[..., None] * xy).sum(1).float().numpy()


# ---------------------------------------------------------------- recording
class Recorder:
    """Scores the sampled generator on fixed noise at the trainer's end of epoch."""

    def __init__(self, cfg: dict, device: torch.device):
        from core.gan.variants import get_variant
        self.cfg, self.device = cfg, torch.device(device)
        self.conditional = get_variant(cfg["variant"]).conditional
        self.disabled = False
        self._frame: dict | None = None

    def due(self, epoch: int, last: bool) -> bool:
        return not self.disabled and (last or epoch % self.cfg["eval_every"] == 0)

    def noise(self, prior):
        g = torch.Generator().manual_seed(self.cfg["seed"] + 2)  # never the training RNG
        return prior.sample(self.cfg["eval_n"], generator=g, device=self.device)

    def record(self, trainer) -> dict | None:
        """Score, place and write one record for the trainer's current epoch; the row. The
        global RNGs (CPU and the device's) are forked: what the record draws — the classifier's
        construction, loaded lazily at the first record of a process, draws its initial weights —
        never shifts training, so a resumed run matches an uninterrupted one bit for bit."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            return self._record(trainer)

    def _record(self, trainer) -> dict | None:
        from core.eval.classifier import predict
        from core.eval.score import classifier, score_predictions
        t0 = time.perf_counter()
        try:
            clf = classifier(str(self.device))
            self._frame = self._frame or frame()
        except CheckpointError as exc:  # no classifier: train on, without a timeline
            print(f"timeline off: {exc}", file=sys.stderr)
            self.disabled = True
            return None
        z, y = self.noise(trainer.prior)

        def scores(G):
            G.eval()
            with torch.no_grad():
                imgs = torch.cat([G(z[i:i + 1024], None if y is None else y[i:i + 1024])
                                  for i in range(0, len(z), 1024)])
            trainer.G.train()
            out = predict(clf, imgs, features=True)
            return out, score_predictions(out, y if self.conditional else None, self._frame["features"][:len(z)],
                                          str(self.device))
        out, res = scores(trainer.sampler)
        raw = scores(trainer.G)[1] if trainer.G_ema is not None else {}
        m = min(MAP_N, len(z))
        own = trainer.run.path / "timeline" / "frame.npz"
        if not self._frame.get("own") and own.is_file():  # a resumed run keeps the frame its first records used
            with np.load(own, allow_pickle=False) as f:
                self._frame = {**self._frame, "xy": f["xy"], "own": True}  # read once per process
        pts = {"xy": place(out["features"][:m], self._frame).astype(np.float16),
               "label": out["labels"][:m].numpy().astype(np.uint8),
               "conf": (out["confidence"][:m].numpy() * 255).round().astype(np.uint8),
               "comp": (y[:m].cpu().numpy() if y is not None else np.full(m, -1)).astype(np.int16)}
        run, epoch = trainer.run, trainer.epoch
        folder = run.path / "timeline"
        folder.mkdir(exist_ok=True)
        if not (folder / "frame.npz").is_file():
            write_npz(folder / "frame.npz", xy=self._frame["xy"], label=self._frame["label"])
        row = {PREFIX + k: res[k] for k in SCALARS if res[k] is not None}
        row.update({f"{PREFIX}hist_{d}": h for d, h in enumerate(res["class_hist"])})
        row.update({RAW + k: raw[k] for k in SCALARS if raw.get(k) is not None})
        row.update({PREFIX + "n": res["n"], PREFIX + "train_s": trainer.train_seconds,
                    PREFIX + "seconds": time.perf_counter() - t0})
        run.log(trainer.step, float(epoch), row)
        write_npz(folder / f"epoch_{epoch:04d}.npz", **pts)  # after its row: a reader that sees the map has the row
        return row


def write_npz(path: Path, **arrays) -> None:
    """Arrays to a compressed .npz, written atomically."""
    from core.store.files import write_bytes_atomic
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())
