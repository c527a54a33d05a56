"""`python -m core score MODEL --latent`: the latent space's own numbers, beside the usual scores.

- ppl: perceptual path length in the classifier's feature space (core.eval.latent_metrics).
- separability: held-out accuracy of ten one-vs-rest logistic regressions that predict the digit
  read from z (the `class` directions' fit, core.explore.directions) — InterFaceGAN's linear
  boundaries; StyleGAN's separability is an entropy, this is its plain-words version.
- component_agreement (mixture priors and conditional models): the share of codes whose digit is
  the one their component (or class asked) makes most.
- authenticity, authenticity_pixels: the share of generated digits that are not copies of a
  training digit, in feature and pixel space (Alaa et al. 2022), with the closest likely copies.
"""
from __future__ import annotations

import json
import time

import numpy as np

from core.errors import ConfigError

LATENT_KEYS = ("ppl", "separability", "component_agreement", "authenticity", "authenticity_pixels")
LATENT_VERSION = 1  # bump when one of these definitions changes: stored latent scores carry it


def separability(G, prior, n: int | None = None, seed: int = 0) -> dict:
    """The `class` directions' held-out accuracy on n codes (directions.FIT_N unless told), and for a
    mixture prior or conditional model the share of codes whose digit is their component's usual one."""
    import torch

    from core.explore.directions import FIT_N, _samples, read_and_fit
    n = FIT_N if n is None else n
    z, comp, x = _samples(G, prior, n, seed)
    labels, fit = read_and_fit(z, x, seed)
    out = {"separability": round(fit["accuracy"], 4), "component_agreement": None}
    if comp is not None:
        agree = 0
        for k in comp.unique():
            lab = labels[comp == k]
            agree += int((lab == torch.bincount(lab, minlength=10).argmax()).sum())
        out["component_agreement"] = round(agree / len(labels), 4)
    return out


def latent_scores(model: str, prior: str | None = None, n: int = 10_000, seed: int = 0, progress=None,
                  use_cache: bool = True) -> dict:
    """The latent numbers of a model (n pairs for PPL, n digits for authenticity), stored beside its
    scores (core.eval.score.stored: keyed by checkpoint, prior, classifier, n, seed and LATENT_VERSION)."""
    from core.eval.score import stored
    if not use_cache:
        return _latent_scores(model, prior, n, seed, progress)
    return stored(model, f"latent=v{LATENT_VERSION}", n, seed, prior,
                  lambda: _latent_scores(model, prior, n, seed, progress))


def cached_latent(model: str, n: int = 10_000, seed: int = 0) -> dict | None:
    """A model's stored latent numbers (shipped for the zoo by `zoo latent`), or None: nothing is measured."""
    from core.eval.score_files import stored_only
    return stored_only(model, f"latent=v{LATENT_VERSION}", n, seed)


def _latent_scores(model: str, prior: str | None, n: int, seed: int, progress, spaces=("features", "pixels")) -> dict:
    import torch

    from core.eval import latent_metrics
    from core.gan.sampling import generate
    from core.store.registry import load_model
    t0 = time.time()
    say = progress or (lambda _msg: None)
    m = load_model(model, prior=prior)
    say("path length")
    out = {"model": model, "prior": prior, "n": n, "seed": seed, "version": LATENT_VERSION,
           "ppl": round(latent_metrics.ppl(m.G, m.prior, n, seed=seed, conditional=m.conditional), 3)}
    say("separability")
    out.update(separability(m.G, m.prior, seed=seed))
    x, _ = generate(m.G, m.prior, n, generator=torch.Generator().manual_seed(seed))
    for space in spaces:
        say(f"authenticity ({space})")
        res = latent_metrics.authenticity(x, space)
        key = "authenticity" if space == "features" else f"authenticity_{space}"
        out[key] = res["authenticity"]
        out[f"closest_{space}"] = res["closest"]
    out["latent_seconds"] = round(time.time() - t0, 1)
    return out


def ship(names: list[str], n: int = 10_000, seed: int = 0, progress=None) -> list[dict]:
    """`python -m core zoo latent`: the zoo models' latent numbers, measured now and written into
    trained/<name>/scores.json beside their scores (what a fresh clone's leaderboard reads)."""
    from core.eval.score_files import stored_slot
    from core.store.files import write_json_atomic
    from core.store.registry import zoo_checkpoint
    rows = []
    for name in names:
        if zoo_checkpoint(name) is None:
            raise ConfigError(f"{name!r} is not a zoo model")
        res = _latent_scores(name, None, n, seed, progress)
        key, files, _ = stored_slot(name, f"latent=v{LATENT_VERSION}", n, seed)
        shipped = files[0]  # trained/<name>/scores.json
        write_json_atomic(shipped, {**json.loads(shipped.read_text()), key: res} if shipped.is_file() else {key: res})
        rows.append(res)
    return rows


def closest_pairs(model: str, closest: list[dict], seed: int = 0, n: int = 10_000, prior: str | None = None):
    """The generated digits of `closest` (from latent_scores, same n and seed) beside their training twins."""
    import torch

    from core.gan.sampling import generate
    from core.store.mnist import load_split, to_model_range
    from core.store.registry import load_model
    m = load_model(model, prior=prior)
    x, _ = generate(m.G, m.prior, n, generator=torch.Generator().manual_seed(seed))
    train, _ = load_split("train")
    idx = np.array([c["index"] for c in closest], dtype=int)
    twins = to_model_range(train[np.array([c["train_index"] for c in closest], dtype=int)])
    return x[idx], twins


def bench_latent(model: str = "wgan-gp", n: int = 10_000) -> dict:
    """`python -m core bench latent`: seconds of each latent measurement on this machine (the training
    split's neighbours read from the cache, computed first if missing and reported apart)."""
    import torch

    from core.eval import latent_metrics
    from core.eval.score import classifier
    from core.explore import directions
    from core.gan.sampling import generate
    from core.store.registry import load_model
    m = load_model(model)
    classifier()  # loaded once, as in any process that measures
    t = time.time()
    for space in ("features", "pixels"):
        latent_metrics.train_neighbours(space)
    out = {"model": model, "n": n, "train_neighbours_s": round(time.time() - t, 2)}
    for method in directions.METHODS:
        t = time.time()
        d = directions.find(m.G, m.prior, method, 10)
        out[f"find_{method}_s"] = round(time.time() - t, 2)
        t = time.time()
        directions.measure(m.G, m.prior, d)
        out[f"measure_{method}_s"] = round(time.time() - t, 2)
    t = time.time()  # again: the first fit also paid torch's one-time autograd start-up (~1.5 s here)
    directions.find(m.G, m.prior, "class", 10)
    out["find_class_again_s"] = round(time.time() - t, 2)
    steps = []
    for s in np.linspace(-4, 4, 9):  # the Directions page's slider: 16 digits edited and read
        t = time.time()
        directions.edit_grid(m.G, m.prior, d, 1, [0.0, float(s)], seeds=16)
        steps.append(time.time() - t)
    out["slider_step_ms"] = round(1000 * float(np.median(steps)), 1)
    from core.explore.atlas import atlas
    t = time.time()
    atlas(model, ["random:0", "random:1", "random:2"], res=64)
    out["atlas_64_s"] = round(time.time() - t, 2)
    t = time.time()
    latent_metrics.ppl(m.G, m.prior, n, conditional=m.conditional)
    out["ppl_s"] = round(time.time() - t, 2)
    x, _ = generate(m.G, m.prior, n, generator=torch.Generator().manual_seed(0))
    for space in ("features", "pixels"):
        t = time.time()
        latent_metrics.authenticity(x, space)
        out[f"authenticity_{space}_s"] = round(time.time() - t, 2)
    return out
