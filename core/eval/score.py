"""Scoring: generated digits -> classifier features -> FID / precision / recall / density /
coverage against the test split, plus class histogram, KL to uniform, conditional accuracy
and confidence.

Reference statistics of the test split and the real-data floors are shipped in
`trained/reference/` (`score --real --ship` writes them), keyed by the classifier's sha256 and
the MNIST content sha256 they were computed from: a changed classifier or data set never reads
them, and recomputes into the user's cache instead. Scores of run checkpoints are stored in the run
folder, keyed by what produced them, so nothing is computed twice. A shipped model's
`trained/<name>/scores.json` is only read (`zoo export` writes it): scores computed for it
go to the user's cache, so scoring never modifies tracked files.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import torch

from core.errors import CheckpointError, ConfigError
from core.eval import metrics
from core.eval.classifier import load_classifier, predict
from core.eval.names import METRICS
from core.eval.score_files import (
    SHIPPED_REF,
    cache_dir,
    cache_slot,
    classifier_sha,
    floor_key,
    floor_path,
    known_floor,
    read_json,
    record_timing,
    stored_in,
    stored_slot,
)
from core.gan.sampling import generate
from core.gan.variants import make_config
from core.store.checkpoint import load as load_ckpt
from core.store.checkpoint import save_atomic
from core.store.files import write_json_atomic
from core.store.mnist import CONTENT_SHA256, load_split, to_model_range
from core.store.registry import build_models, load_model, load_prior, models_from_checkpoint

K = 5  # neighbours for precision / recall / density / coverage
FLOOR_NS = (500, 1000, 2000, 5000, 10_000)  # the floors shipped: every n a page asks for (Refine's choices, 10k)
KEYS = (*METRICS, "class_hist", "cond_acc", "confidence", "n", "seconds")


@functools.lru_cache(maxsize=2)
def classifier(device: str = "cpu"):
    return load_classifier(device=device)


def _ref_path(sha: str, split: str = "test") -> Path:
    return cache_dir() / f"reference_{split}_{sha[:16]}.pt"


def reference_key(split: str = "test") -> dict:
    """What a split's reference statistics are computed from: the classifier and the data."""
    return {"classifier_sha256": classifier_sha(), "data_sha256": CONTENT_SHA256, "split": split}


def _pack_features(feats: torch.Tensor) -> np.ndarray:
    """float32 features -> their bytes, byte-planes first (4 × N·d uint8): lossless, and the
    exponent planes compress well (10k × 128 features: 4.9 MiB raw, 3.8 MiB deflated)."""
    return np.ascontiguousarray(feats.float().numpy()).view(np.uint8).reshape(-1, 4).T.copy()


def _unpack_features(planes: np.ndarray, shape) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(planes.T).view(np.float32).reshape(tuple(shape))).double()


_SHIPPED_MEMO: dict = {}


def _shipped_reference(key: dict) -> dict | None:
    """The shipped reference of `key`'s split, or None when it is missing, unreadable or was
    computed from another classifier or data set (then the caller recomputes)."""
    path = SHIPPED_REF / f"{key['split']}.npz"
    try:
        stamp = (path, path.stat().st_mtime_ns, *key.values())
        if stamp in _SHIPPED_MEMO:
            return _SHIPPED_MEMO[stamp]
        with np.load(path, allow_pickle=False) as z:
            if any(str(z[k]) != v for k, v in key.items()):
                return None
            feats = _unpack_features(z["features"], z["shape"])
            labels = torch.from_numpy(z["labels"].astype(np.int64))
            radii = torch.from_numpy(z[f"radii2_k{K}"]) if f"radii2_k{K}" in z.files else None
    except (OSError, KeyError, ValueError):
        return None
    mu, sigma = metrics.feature_stats(feats)
    _SHIPPED_MEMO.clear()
    _SHIPPED_MEMO[stamp] = ref = {**key, "features": feats, "mu": torch.as_tensor(mu),
                                  "sigma": torch.as_tensor(sigma), "labels": labels, f"radii2_k{K}": radii,
                                  "shipped": True}
    return ref


def test_labels() -> np.ndarray:
    """The test split's labels: from the shipped reference when it was made from this data set
    (10 kB read), else from the prepared data (whose first read in a process takes ~0.5 s)."""
    try:
        with np.load(SHIPPED_REF / "test.npz", allow_pickle=False) as z:
            if str(z["data_sha256"]) == CONTENT_SHA256:
                return z["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError):
        pass
    return load_split("test")[1]


def reference_radii2(ref: dict) -> torch.Tensor:
    """The squared k-NN radii (k = K) of a reference's features, as prdc computes them: shipped
    with the reference, else computed once per reference and kept in it (every score needs them;
    10k × 10k distances each time)."""
    if ref.get(f"radii2_k{K}") is None:
        ref[f"radii2_k{K}"] = metrics.kth_radii2(ref["features"], K)
    return ref[f"radii2_k{K}"]


def compute_reference(split: str = "test", device: str = "cpu") -> dict:
    """Classifier features (and their Gaussian fit) of a split's digits, computed now."""
    x, y = load_split(split)
    feats = predict(classifier(device), to_model_range(x), features=True)["features"].double()
    mu, sigma = metrics.feature_stats(feats)
    return {**reference_key(split), "features": feats, "mu": torch.as_tensor(mu), "sigma": torch.as_tensor(sigma),
            "labels": torch.as_tensor(y), f"radii2_k{K}": metrics.kth_radii2(feats, K)}


def reference(device: str = "cpu", shipped: bool = True, split: str = "test") -> dict:
    """Classifier features (and their Gaussian fit) of a split's 10k digits (the test split's
    unless told; "valid" is what recipes are chosen on): the shipped ones when they were computed
    from this classifier and data (the test split's only), else the user's cache, else computed
    now (and cached)."""
    key = reference_key(split)
    if shipped and (ref := _shipped_reference(key)) is not None:
        return ref
    path = _ref_path(key["classifier_sha256"], split)
    if path.is_file():
        try:
            ref = torch.load(path, weights_only=True)
            if all(ref.get(k) == v for k, v in key.items()):
                return ref
        except Exception:
            pass  # a corrupt cache is rebuilt
    ref = compute_reference(split, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(ref, path)
    return ref


def score_images(images: torch.Tensor, requested: torch.Tensor | None = None, device: str = "cpu",
                 split: str = "test") -> dict:
    """Score N digits in the generator's range (N×784) against `split`'s digits. `requested` =
    the labels a conditional model was asked for (then cond_acc is reported, else null)."""
    t0 = time.perf_counter()
    out = predict(classifier(device), images, features=True)
    res = score_predictions(out, requested, device=device, split=split)
    res["seconds"] = round(time.perf_counter() - t0, 3)
    return res


def score_predictions(out: dict, requested: torch.Tensor | None = None, real_feats: torch.Tensor | None = None,
                      device: str = "cpu", split: str = "test") -> dict:
    """The scores of digits the classifier has read (`predict(..., features=True)`'s output):
    FID against `split`'s Gaussian fit (the test split's unless told), precision / recall / density /
    coverage against `real_feats` (default: all 10k digits of the split), class histogram and its
    KL, confidence."""
    ref = reference(device, split=split)
    feats = out["features"].double()
    mu, sigma = metrics.feature_stats(feats)
    hist = metrics.class_histogram(out["labels"].numpy())
    return {"fid": metrics.frechet_distance(ref["mu"].numpy(), ref["sigma"].numpy(), mu, sigma),
            **(metrics.prdc(ref["features"], feats, k=K, real_radii2=reference_radii2(ref)) if real_feats is None
               else metrics.prdc(real_feats, feats, k=K)),
            "class_hist": [round(float(h), 6) for h in hist],
            "class_kl": metrics.kl_to_uniform(hist),
            "cond_acc": None if requested is None else metrics.conditional_accuracy(out["labels"], requested.cpu()),
            "confidence": metrics.mean_confidence(out["probs"]),
            "n": int(len(feats))}


def _floor_key(n: int, seed: int) -> str:
    return floor_key(n, seed, classifier_sha(), CONTENT_SHA256)


def score_real(n: int = 10_000, seed: int = 0, use_cache: bool = True) -> dict:
    """The real-data floor: n random training digits scored like a generator's samples. No
    generator can be expected to do better than this against the test split. Read from the
    shipped floors or the user's cache when one was computed from this classifier and data at
    this n and seed; else computed now and cached."""
    key = _floor_key(n, seed)
    path = floor_path(key)
    if use_cache and (found := known_floor(key, SHIPPED_REF)) is not None:
        return found
    x, _ = load_split("train")
    idx = np.random.default_rng(seed).choice(len(x), size=min(n, len(x)), replace=False)
    res = {"model": "real (train split)", "seed": seed, **score_images(to_model_range(x[np.sort(idx)])), "key": key}
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, res)
    return res


def ship_reference(ns=FLOOR_NS, seed: int = 0) -> dict:
    """Compute the test split's reference and the floors at `ns` from scratch and write them to
    trained/reference/ (`python -m core score --real --ship`): what a fresh clone reads instead
    of computing them on its first page. Returns {file: bytes}."""
    ref = compute_reference("test")
    SHIPPED_REF.mkdir(parents=True, exist_ok=True)
    feats = ref["features"]
    np.savez_compressed(SHIPPED_REF / "test.npz", **{k: np.array(ref[k]) for k in reference_key("test")},
                        features=_pack_features(feats), shape=np.array(feats.shape),
                        labels=ref["labels"].numpy().astype(np.uint8), **{f"radii2_k{K}": ref[f"radii2_k{K}"].numpy()})
    _SHIPPED_MEMO.clear()
    shipped = reference()
    if not (shipped.get("shipped") and torch.equal(shipped["features"], feats)
            and torch.equal(shipped[f"radii2_k{K}"], ref[f"radii2_k{K}"])):
        raise CheckpointError("the shipped reference does not read back as written")
    floors = {_floor_key(n, seed): score_real(n, seed, use_cache=False) for n in ns}
    write_json_atomic(SHIPPED_REF / "floor.json", {
        "about": "the real-data floor (n random train digits, seed) scored against trained/reference/test.npz; "
                 "keyed by metric version, classifier sha256, MNIST content sha256, n and seed",
        "date": time.strftime("%Y-%m-%d"), "command": "python -m core score --real --ship", "floors": floors})
    return {p.name: p.stat().st_size for p in sorted(SHIPPED_REF.iterdir())}


def stored(model: str, what: str, n: int, seed: int, prior: str | None, compute) -> dict:
    """Another measurement of a model kept beside its scores: `what` (a name and its version) joins the
    scores' key (checkpoint and prior sha256, n, seed, classifier), so a rewritten checkpoint or
    classifier never reads it; computed by `compute()` when missing (core.explore.latent_scores)."""
    key, files, cache = stored_slot(model, what, n, seed, prior)
    if (found := stored_in(files, key)) is not None:
        return found
    res = compute()
    if cache is not None:
        write_json_atomic(cache, {**read_json(cache), key: res})
    return res


CLASS_WEIGHTS = ("uniform", "mnist")


def class_frequencies() -> torch.Tensor:
    """MNIST's digit frequencies (the train split's), for sampling classes as the data has them."""
    _, y = load_split("train")
    return torch.from_numpy(np.bincount(y, minlength=10) / len(y)).float()


def requested_classes(n: int, class_weights: str, generator: torch.Generator) -> torch.Tensor | None:
    """The classes asked of a conditional model: None = its prior's own uniform draw; 'mnist'
    draws them at MNIST's class frequencies (seed 002's alternative)."""
    if class_weights not in CLASS_WEIGHTS:
        raise ConfigError(f"--class-weights must be one of {', '.join(CLASS_WEIGHTS)}, got {class_weights!r}")
    if class_weights == "uniform":
        return None
    return torch.multinomial(class_frequencies(), n, replacement=True, generator=generator)


def check_class_weights(variant: str, conditional: bool, prior: str | None, class_weights: str) -> None:
    """Classes can be asked for only of a conditional model sampled from its trained prior."""
    if class_weights == "uniform":
        return
    if not conditional:
        raise ConfigError(f"--class-weights {class_weights}: {variant} is not conditional, so its classes "
                          "cannot be asked for")
    if prior:
        raise ConfigError(f"--class-weights {class_weights} asks the trained prior for classes; the fitted prior "
                          f"{prior!r} draws its components by its own weights")


def score_model(model: str, n: int = 10_000, seed: int = 0, device: str = "cpu", use_cache: bool = True,
                prior: str | None = None, class_weights: str = "uniform", raw: bool = False,
                split: str = "test") -> dict:
    """Generate n digits from MODEL (a zoo, imported or run name, or a checkpoint path) with `seed` and score
    them (from its fitted `prior` when named). For a run or zoo model the result is stored in
    its folder's scores.json, keyed by the checkpoint's (and prior file's) sha256, n, seed,
    classifier and metric version, and reused (use_cache=False neither reads nor writes it).
    `raw`: score the live generator of a run that keeps an EMA, not the EMA (its effect at equal epochs).
    `split`: the digits scored against — "test" (what is reported) or "valid" (what is chosen on)."""
    ckpt_path, key, files, cache = cache_slot(model, n, seed, prior)
    if class_weights != "uniform":
        key += f";classes={class_weights}"
    if raw:
        key += ";raw"
    if split != "test":
        key += f";split={split}"
    if use_cache and (stored := stored_in(files, key)) is not None:
        return stored
    t0 = time.perf_counter()
    sd = load_ckpt(ckpt_path, map_location=device)
    if raw:
        if sd.get("G_ema") is None:
            raise ConfigError(f"{model} keeps no generator EMA: its generator is the raw one (score it without --raw)")
        sd = {**sd, "G_ema": None}
    m = models_from_checkpoint(sd, device)
    p = load_prior(model, prior, device) if prior else m.prior
    g = torch.Generator().manual_seed(seed)
    y = requested_classes(n, class_weights, g)
    check_class_weights(m.variant.name, m.conditional, prior, class_weights)
    imgs, y = generate(m.G, p, n, y=y, generator=g)
    requested = y if m.conditional else None
    res = {"model": model, "variant": m.variant.name, "step": sd["step"], "seed": seed, "prior": prior,
           "class_weights": class_weights, **({"generator": "raw"} if raw else {}), "split": split,
           **score_images(imgs, requested, device, split)}
    if use_cache and cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(cache, {**read_json(cache), key: res})
    if not raw and prior is None and class_weights == "uniform" and split == "test":  # a tracked run's final scores
        from core.track import scored
        scored(ckpt_path.parent, res)
    record_timing(n, time.perf_counter() - t0)
    return res


def bench_score(model: str | None = None, n: int = 10_000) -> dict:
    """Seconds to score n generated digits against the test split: with the test split's
    reference computed from scratch (cold_s), read from trained/reference/ (shipped_s, or from the
    user's cache where the shipped one does not apply) and already in memory (warm_s)."""
    if model is None:  # any generator will do for timing: an untrained one needs no files
        torch.manual_seed(0)
        G, _, prior = build_models(make_config("wgan-gp"))
    else:
        m = load_model(model)
        G, prior = m.G, m.prior
    make = lambda: generate(G, prior, n, generator=torch.Generator().manual_seed(0))[0]  # noqa: E731
    classifier()  # loading the weights is not part of any timing
    t0 = time.perf_counter()
    compute_reference("test")
    compute = time.perf_counter() - t0
    _SHIPPED_MEMO.clear()
    t0 = time.perf_counter()
    reference()
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_images(make())
    warm = time.perf_counter() - t0
    return {"cold_s": round(compute + warm, 2), "shipped_s": round(read + warm, 2), "warm_s": round(warm, 2),
            "n": n}
