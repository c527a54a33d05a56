"""Sample-quality metrics on feature vectors, shape (N, d), numpy or torch in, Python numbers out.

The features come from an MNIST classifier's penultimate layer; this module never sees the
classifier. Two families:
- distribution level: FID (a Fréchet distance between Gaussian fits) and precision / recall /
  density / coverage (k-NN balls; Kynkäänniemi et al. 2019, Naeem et al. 2020), defined exactly
  as `prdc.compute_prdc` of the `prdc` package;
- class level, for conditional generators: the class histogram of the samples, its KL to
  uniform, conditional accuracy and the classifier's mean confidence.
Distances and statistics are float64 by default: in float32 the strict k-NN ball tests (d < r)
now and then flip on a near-tie (one point in 3000 on clustered ReLU-like features in our
check); in float64 they agree with prdc's (sklearn's float64) distances on every point.
"""
from __future__ import annotations

import numpy as np
import torch

from core.eval.names import LOWER_IS_BETTER, METRICS, PRDC  # noqa: F401 - scores' names, defined once there

_BLOCK_BYTES = 64 * 2**20  # one distance block (float64) + its boolean mask, at most
_MAX_ROWS = 2**15 - 1  # per-block counts are summed in int16


def _array(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)


def _features(x, name: str, min_rows: int = 2, dtype=torch.float64):
    """A (N, d) tensor of `dtype`, on x's device if x is a tensor; no NaN/inf."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.to(dtype)
    if t.ndim != 2 or len(t) < min_rows:
        raise ValueError(f"{name}: need an (N, d) array with N >= {min_rows}, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return t


# ---- FID --------------------------------------------------------------------------------------
def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of the features as float64 numpy arrays (covariance with
    N-1, like np.cov and pytorch-fid). Computed in torch: numpy's OpenBLAS threads fight torch's
    OpenMP threads on a small CPU, and np.cov ran ~5x slower here."""
    f = _features(feats, "feats")
    mu = f.mean(0)
    c = f - mu
    return mu.cpu().numpy(), (c.T @ c / (len(f) - 1)).cpu().numpy()


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """‖μ1−μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1Σ2)^½), the Fréchet distance between two Gaussians.

    Tr (Σ1Σ2)^½ is the sum of the square roots of the eigenvalues of Σ1Σ2, which are those of
    the *symmetric* PSD matrix M = Σ1^½ Σ2 Σ1^½ (AB and BA share eigenvalues; take A = Σ1^½).
    So two `eigh` calls replace scipy's `sqrtm` of the non-symmetric Σ1Σ2: no complex parts to
    discard and no eps·I fudge when a covariance is singular (N < d, or dead ReLU units), just
    rounding-level negative eigenvalues clipped to 0. The result is clamped at 0 likewise."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = len(mu1)
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    r = _sqrt_psd(s1)
    m = r @ s2 @ r
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return max(float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean), 0.0)


def fid(real_feats, fake_feats) -> float:
    """FID between two feature sets (each fitted by a Gaussian)."""
    return frechet_distance(*feature_stats(real_feats), *feature_stats(fake_feats))


# ---- precision / recall / density / coverage ----------------------------------------------------
def _blocks(a: torch.Tensor, b: torch.Tensor, chunk_rows: int | None):
    """Yield (rows, squared distances from a[rows] to every row of b), a block at a time.

    One GEMM gives the block directly: [a, |a|², 1] · [-2b, 1, |b|²]ᵀ = |a|² + |b|² − 2 a·b.
    The block buffer is allocated once and reused: a fresh multi-MB tensor per block costs page
    faults that made the GEMMs ~3x slower on the 2-core CPU."""
    rows = min(chunk_rows or max(1, _BLOCK_BYTES // ((a.element_size() + 1) * len(b))), _MAX_ROWS)
    one = a.new_ones(1, 1)
    a_aug = torch.cat([a, (a * a).sum(1, keepdim=True), one.expand(len(a), 1)], 1)
    b_aug_t = torch.cat([-2 * b, one.expand(len(b), 1), (b * b).sum(1, keepdim=True)], 1).T
    buf = a.new_empty(min(rows, len(a)), len(b))
    for start in range(0, len(a), rows):
        sl = slice(start, min(start + rows, len(a)))
        out = buf[: sl.stop - start]
        torch.mm(a_aug[sl], b_aug_t, out=out)
        yield sl, out


def _kth_radii2(x: torch.Tensor, k: int, chunk_rows: int | None) -> torch.Tensor:
    """Squared distance from each row of x to its k-th nearest *other* row: like prdc, the
    (k+1)-th smallest distance counting the row itself (0)."""
    r2 = x.new_empty(len(x))
    for sl, d2 in _blocks(x, x, chunk_rows):
        r2[sl] = d2.topk(k + 1, dim=1, largest=False, sorted=False).values.amax(1)
    return r2.clamp_(min=0)


@torch.no_grad()
def kth_radii2(feats, k: int = 5, chunk_rows: int | None = None, dtype=torch.float64) -> torch.Tensor:
    """The squared k-NN radii prdc gives a feature set's points (pass a fixed real set's to prdc
    as `real_radii2` so they are computed once, not per score)."""
    return _kth_radii2(_features(feats, "feats", k + 1, dtype), k, chunk_rows)


@torch.no_grad()
def prdc(real_feats, fake_feats, k: int = 5, chunk_rows: int | None = None,
         dtype=torch.float64, real_radii2: torch.Tensor | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage, exactly as `prdc.compute_prdc(real, fake, k)`.

    With B(x, r) the open ball and r_i (s_j) the distance from real i (fake j) to its k-th
    nearest other real (fake) point:
      precision = share of fakes inside some real ball B(real_i, r_i)
      recall    = share of reals inside some fake ball B(fake_j, s_j)
      density   = mean over fakes of (number of real balls containing it) / k
      coverage  = share of real balls that contain at least one fake
    "Inside" is the strict d < r of prdc, compared on squared distances. Distances are computed
    in blocks of `chunk_rows` rows (default: ~64 MB per block), never as full N×M matrices, in
    `dtype` (float32 roughly halves the GEMM time at the cost of a rare near-tie flip; see the top).
    Caveat (as in prdc): k or more exact duplicates of a point give it radius 0, and what a zero
    ball contains is then decided by rounding. `real_radii2`: the real set's `kth_radii2` (same k
    and dtype), when they are already known."""
    real = _features(real_feats, "real_feats", k + 1, dtype)
    fake = _features(fake_feats, "fake_feats", k + 1, dtype)
    if k < 1 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"need k >= 1 and equal feature sizes, got k={k}, d={real.shape[1]} / {fake.shape[1]}")
    fake = fake.to(real.device)
    if real_radii2 is not None and real_radii2.shape != (len(real),):
        raise ValueError(f"real_radii2 must hold one radius per real point ({len(real)}), got {tuple(real_radii2.shape)}")
    r2_real = _kth_radii2(real, k, chunk_rows) if real_radii2 is None else real_radii2.to(real)
    r2_fake = _kth_radii2(fake, k, chunk_rows)
    balls_per_fake = torch.zeros(len(fake), dtype=torch.int64, device=real.device)
    covered = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    recalled = torch.zeros_like(covered)
    mask = None
    for sl, d2 in _blocks(real, fake, chunk_rows):
        mask = torch.empty_like(d2, dtype=torch.bool) if mask is None else mask
        m = mask[: len(d2)]
        u8 = m.view(torch.uint8)  # uint8 max/int16 sum are several times faster than bool any/sum
        torch.lt(d2, r2_real[sl, None], out=m)  # fake j inside real ball i
        balls_per_fake += u8.sum(0, dtype=torch.int16)
        covered[sl] = u8.amax(1).bool()
        torch.lt(d2, r2_fake[None, :], out=m)  # real i inside fake ball j
        recalled[sl] = u8.amax(1).bool()
    n_real, n_fake = len(real), len(fake)
    return {"precision": (balls_per_fake > 0).sum().item() / n_fake,
            "recall": recalled.sum().item() / n_real,
            "density": balls_per_fake.sum().item() / (k * n_fake),
            "coverage": covered.sum().item() / n_real}


# ---- class-level scores -------------------------------------------------------------------------
def reads_as(labels, top: int = 3) -> list[tuple[int, int]]:
    """The digits a set of samples is read as, most frequent first, with their counts; digits
    never read are left out (a caption never lists zero counts)."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=10)
    order = sorted(range(10), key=lambda d: (-counts[d], d))
    return [(d, int(counts[d])) for d in order[:top] if counts[d] > 0]


def class_histogram(labels, n_classes: int = 10) -> np.ndarray:
    """Fraction of samples per class, shape (n_classes,), summing to 1."""
    y = _array(labels).reshape(-1)
    if len(y) == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be a non-empty array of integers in [0, {n_classes})")
    return np.bincount(y, minlength=n_classes) / len(y)


def kl_to_uniform(hist) -> float:
    """KL(hist ‖ uniform) in nats: 0 for a uniform histogram, log K when all mass is on one class.
    Empty bins contribute 0 (0·log 0 = 0). `hist` may be counts; it is normalised first."""
    p = np.asarray(hist, np.float64).reshape(-1)
    if len(p) == 0 or (p < 0).any() or p.sum() <= 0:
        raise ValueError("hist must be non-negative with a positive sum")
    p = p / p.sum()
    nz = p > 0
    return max(float((p[nz] * np.log(p[nz] * len(p))).sum()), 0.0)


def conditional_accuracy(pred_labels, requested_labels) -> float:
    """Share of samples the classifier assigns to the class they were generated for."""
    pred, req = _array(pred_labels).reshape(-1), _array(requested_labels).reshape(-1)
    if len(pred) == 0 or pred.shape != req.shape:
        raise ValueError(f"need two non-empty label arrays of equal length, got {pred.shape} and {req.shape}")
    return float((pred == req).mean())


def mean_confidence(probs) -> float:
    """Mean over samples of the classifier's top class probability (probs: (N, n_classes))."""
    p = _array(probs).astype(np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probs must be (N, n_classes), got shape {p.shape}")
    return float(p.max(1).mean())
