"""2-D maps of digits: PCA, t-SNE (openTSNE, FFT-accelerated) and UMAP (umap-learn).

Inputs wider than 50 columns are first reduced to 50 by PCA for t-SNE and UMAP (standard
practice; it also makes them several times faster). Every projection is cached on disk under
`<cache dir>/embed/`, keyed by a hash of the input array, the method and its parameters, so a
second request is a file read. `model_map` builds the points the dashboard plots: generated
digits (and optionally real ones) in pixel, classifier-feature or latent space, with inferred
labels and confidences; it is cached by its inputs too.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from core.errors import ConfigError
from core.eval.metrics import reads_as
from core.explore.projector import TSNE_ITER  # noqa: F401 - part of what a map's cache key means

METHODS = ("pca", "tsne", "umap")
SPACES = ("pixels", "features", "latent")
PCA_DIMS = 50
VERSION = 3  # 2: exact PCA by eigendecomposition (was sklearn's randomized PCA); 3: UMAP_EPOCHS
MAP_VERSION = 2  # 2: maps carry "explained" (PCA's explained variance ratios)


def _cache_root() -> Path:
    from core.eval.score_files import cache_dir
    return cache_dir() / "embed"


def _key(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(memoryview(a).cast("B"))
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()[:24]


def explained_variance(x, k: int = 10) -> np.ndarray:
    """Fraction of the total variance along each of the first k principal axes (what PCA's
    2-D map keeps is the sum of the first two)."""
    x = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    s = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    return (s / s.sum())[:k] if s.sum() > 0 else np.zeros(min(k, len(s)))


def _pca(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """x projected on its first `dims` principal axes: an eigendecomposition of the D×D
    covariance in float64 (exact, and D ≤ 784 here), each axis's sign fixed so that its largest
    loading is positive (sklearn's convention). No sklearn import: that alone took ~0.9 s of the
    dashboard's first map. `seed` is unused (exact PCA is deterministic)."""
    del seed
    xc = np.asarray(x, dtype=np.float64)
    xc = xc - xc.mean(0)
    dims = min(dims, *xc.shape)
    vals, vecs = np.linalg.eigh(xc.T @ xc)
    vecs = vecs[:, np.argsort(vals)[::-1][:dims]]
    vecs *= np.sign(vecs[np.abs(vecs).argmax(0), np.arange(dims)])
    return (xc @ vecs).astype(np.float32)


def _tsne(x: np.ndarray, seed: int, perplexity: float) -> np.ndarray:
    """openTSNE (core.explore.projector: here, or in the dashboard's worker process)."""
    from core.explore.projector import run
    return run("tsne", x, seed, perplexity)


def knn(x: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (self included, first) by chunked matrix products."""
    t = torch.from_numpy(x).double()
    sq = (t * t).sum(1)
    idx, dist = [], []
    for i in range(0, len(t), chunk):
        d2 = (sq[i:i + chunk, None] + sq[None, :] - 2 * t[i:i + chunk] @ t.T).clamp_min(0)
        d2[torch.arange(len(d2)), torch.arange(i, i + len(d2))] = -1  # self first, even among duplicates
        v, j = d2.topk(k, largest=False)
        idx.append(j), dist.append(v.clamp_min(0).sqrt())
    return torch.cat(idx).numpy().astype(np.int32), torch.cat(dist).float().numpy()


def _umap(x: np.ndarray, seed: int, neighbors: int) -> np.ndarray:
    """umap-learn on an exact kNN graph we compute ourselves: it skips pynndescent, whose
    just-in-time compilation alone costs ~30 s in every new process. The fit runs in
    core.explore.projector (here, or in the dashboard's worker process)."""
    from core.explore.projector import run
    k = min(neighbors, len(x) - 1)
    return run("umap", x, seed, k, knn(x, k))


def project(x, method: str = "pca", seed: int = 0, perplexity: float = 30.0, neighbors: int = 15,
            use_cache: bool = True) -> np.ndarray:
    """N×2 float32 map of the rows of x (N×D)."""
    if method not in METHODS:
        raise ConfigError(f"projection must be one of {', '.join(METHODS)}, got {method!r}")
    x = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3:
        raise ConfigError(f"a projection needs an N×D array with N ≥ 3, got shape {x.shape}")
    params = {"v": VERSION, "method": method, "seed": seed,
              **({"perplexity": perplexity} if method == "tsne" else {}),
              **({"neighbors": neighbors} if method == "umap" else {})}
    path = _cache_root() / f"{method}_{_key(x, params)}.npy"
    if use_cache and path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed
    if method == "pca":
        y = _pca(x, 2, seed)
    else:
        xr = _pca(x, PCA_DIMS, seed) if x.shape[1] > PCA_DIMS else x
        y = _tsne(xr, seed, perplexity) if method == "tsne" else _umap(xr, seed, neighbors)
    y = np.ascontiguousarray(y, dtype=np.float32)
    if use_cache:
        import io

        from core.store.files import write_bytes_atomic
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.save(buf, y, allow_pickle=False)
        write_bytes_atomic(path, buf.getvalue())
    return y


def model_map(model: str, n: int = 2000, space: str = "features", method: str = "umap", real: int = 0,
              seed: int = 0, prior: str | None = None, device: str = "cpu", use_cache: bool = True) -> dict:
    """Points for a map of MODEL's digits: xy (N×2), source ('fake'/'real'), inferred label,
    confidence, component (the prior's component/requested class, -1 if none, or for real
    digits their true label) and the digits as uint8 N×784. Cached by every input."""
    from core.eval.classifier import predict
    from core.eval.score import classifier
    from core.eval.score_files import classifier_sha
    from core.gan.sampling import propose
    from core.store.checkpoint import file_sha256
    from core.store.mnist import load_split, to_model_range
    from core.store.registry import load_model, prior_token, resolve
    if space not in SPACES:
        raise ConfigError(f"space must be one of {', '.join(SPACES)}, got {space!r}")
    if space == "latent" and real:
        raise ConfigError("real digits have no latent code; invert them first (`python -m core invert`) "
                          "or pick the pixels or features space")
    if n < 3:
        raise ConfigError("a map needs at least 3 digits")
    prior_sha = prior_token(model, prior, file_sha256) if prior else None
    key = _key({"v": VERSION, "map": MAP_VERSION, "ckpt": file_sha256(resolve(model)), "n": n, "space": space,
                "method": method, "real": real, "seed": seed, "prior": [prior, prior_sha], "classifier": classifier_sha()})
    path = _cache_root() / f"map_{key}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError):
            pass
    m = load_model(model, device, prior)
    z, comp, x = propose(m.G, m.prior, n, torch.Generator().manual_seed(seed))
    x = x.cpu()
    comp = comp.cpu() if comp is not None else torch.full((n,), -1)
    src = np.array(["fake"] * n)
    if real:
        xs, ys = load_split("test")
        idx = np.sort(np.random.default_rng(seed).choice(len(xs), size=min(real, len(xs)), replace=False))
        x = torch.cat([x, to_model_range(xs[idx])])
        comp = torch.cat([comp, torch.from_numpy(ys[idx]).long()])
        src = np.concatenate([src, np.array(["real"] * len(idx))])
    out = predict(classifier(device), x, features=(space == "features"))
    data = {"pixels": x, "features": out.get("features"), "latent": z}[space]
    res = {"xy": project(data, method, seed, use_cache=use_cache), "source": src,
           "label": out["labels"].numpy(), "confidence": out["confidence"].numpy(),
           "component": comp.numpy(), "images": ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy(),
           "explained": explained_variance(data) if method == "pca" else np.zeros(0)}
    if use_cache:
        import io

        from core.store.files import write_bytes_atomic
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, **res)
        write_bytes_atomic(path, buf.getvalue())
    return res


def features_map(x: torch.Tensor, n: int = 2000, method: str = "pca", seed: int = 0) -> dict:
    """A map of (up to n of) any digits (a user's samples file, say) in the classifier's feature space: xy, inferred label
    and confidence."""
    from core.eval.classifier import predict
    from core.eval.score import classifier
    if len(x) > n:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))]
    out = predict(classifier(), x, features=True)
    return {"xy": project(out["features"], method, seed), "label": out["labels"].numpy(),
            "confidence": out["confidence"].numpy()}


def warm_up() -> None:
    """Import umap and load its numba kernels on a tiny problem: ~3 s once per process from numba's
    disk cache, ~15 s the very first time, when they are compiled into it (core.explore.projector).
    The dashboard does it in the background after its first page; `data prepare` on a new install."""
    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    _umap(x, 0, 15)


def bench_embed(n: int = 10_000, model: str | None = None, space: str = "features") -> dict:
    """Cold seconds of each projection of n generated digits (no cache) and of a cached call,
    after a `warm_up` (whose one-time cost per process is reported as warm_up_s)."""
    import os
    import tempfile

    from core.eval.classifier import predict
    from core.eval.score import classifier
    from core.gan.sampling import generate
    from core.gan.variants import make_config
    from core.store.registry import build_models, load_model
    if model:
        m = load_model(model)
        G, p = m.G, m.prior
    else:
        torch.manual_seed(0)
        G, _, p = build_models(make_config("wgan-gp"))
    imgs, _ = generate(G, p, n, generator=torch.Generator().manual_seed(0))
    x = predict(classifier(), imgs, features=True)["features"] if space == "features" else imgs
    res = {"n": n, "space": space, "dims": int(x.shape[1])}
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("LATENT_LAB_CACHE")
        os.environ["LATENT_LAB_CACHE"] = tmp
        try:
            t0 = time.perf_counter()
            warm_up()
            res["warm_up_s"] = round(time.perf_counter() - t0, 3)
            for m in METHODS:
                t0 = time.perf_counter()
                project(x, m)
                res[f"{m}_s"] = round(time.perf_counter() - t0, 3)
            t0 = time.perf_counter()
            project(x, "umap")
            res["cached_s"] = round(time.perf_counter() - t0, 3)
        finally:
            if old is None:
                os.environ.pop("LATENT_LAB_CACHE", None)
            else:
                os.environ["LATENT_LAB_CACHE"] = old
    return res


def selection_summary(res: dict, idx) -> dict:
    """What a box/lasso selection on a map holds: how many digits of each source, the labels
    the classifier reads (counts) and their mean confidence per source, and one row per digit
    (index, source, label, confidence, component) for export."""
    idx = np.asarray(idx, dtype=int)
    src, lab, conf, comp = (np.asarray(res[k])[idx] for k in ("source", "label", "confidence", "component"))
    out = {"n": len(idx), "by_source": {}, "rows": [
        {"index": int(i), "source": "generated" if s == "fake" else "real", "label": int(l),
         "confidence": round(float(c), 4), "component": int(k)} for i, s, l, c, k in zip(idx, src, lab, conf, comp)]}
    for tag, name in (("fake", "generated"), ("real", "real")):
        m = src == tag
        if m.any():
            out["by_source"][name] = {"n": int(m.sum()), "mean_confidence": float(conf[m].mean()),
                                      "labels": dict(reads_as(lab[m], top=10))}
    return out


def map_neighbours(xy: np.ndarray, i: int, k: int = 8) -> np.ndarray:
    """Indices of the k points nearest to point i on the 2-D map (i itself excluded)."""
    xy = np.asarray(xy, dtype=np.float64)
    if not 0 <= i < len(xy):
        raise ConfigError(f"digit #{i} is not on this map (0–{len(xy) - 1})")
    d = np.linalg.norm(xy - xy[i], axis=1)
    d[i] = np.inf
    return np.argsort(d, kind="stable")[:min(k, len(xy) - 1)]


def map_search(res: dict, by: str, value: int, k: int = 8) -> dict:
    """A search on a map, marked as the Embedding Projector marks it. by 'class': every digit the
    classifier reads as `value` (matches); by 'index': digit #value (focus) and its k nearest
    neighbours on the map. Point indices into the map's arrays; a caption says what was found."""
    labels = np.asarray(res["label"])
    if by == "class":
        if not 0 <= int(value) <= 9:
            raise ConfigError(f"a digit class is 0–9, got {value}")
        matches = np.flatnonzero(labels == int(value))
        return {"matches": matches.tolist(), "focus": [], "neighbours": [],
                "caption": f"{len(matches)} of {len(labels)} digits are read as {int(value)}"}
    if by == "index":
        near = map_neighbours(res["xy"], int(value), k)
        return {"matches": [], "focus": [int(value)], "neighbours": near.tolist(),
                "caption": f"digit #{int(value)} (read as {labels[int(value)]}) and its {len(near)} nearest "
                           "neighbours on this map"}
    raise ConfigError(f"search by 'class' or 'index', got {by!r}")
