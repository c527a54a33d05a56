"""Findings about latent spaces (core/results/claims.py, kinds `latent` and `copies`), judged by the
same rule as every finding (core/results/verdicts.py) over sampling seeds:

* ``latent`` -- model A's latent space beats model B's on one latent number (separability: higher;
  PPL: lower), for each pair of the claim; like for like over the models' whole configs, per pair.
* ``copies`` -- no model copies its training set: each model's authenticity (classifier features,
  core.eval.latent_metrics) against that of 10k real test digits, which are no copies by
  construction. A model is flagged only when it is less authentic than the real digits on every
  seed by more than twice the spread (like a "no gain" claim: no clear shortfall counts as none).

Each number is measured on N digits or pairs per sampling seed and stored beside the model's scores.
"""
from __future__ import annotations

import functools
import statistics

import torch

from core.results.verdicts import _combine, _fmt, _like_for_like, judged, verdict

N = 10_000
HIGHER_IS_BETTER = {"separability": True, "ppl": False, "authenticity": True}


def _measure(model: str, metric: str, seed: int) -> float:
    from core.eval import latent_metrics
    from core.explore.latent_scores import separability
    from core.gan.sampling import generate
    from core.store.registry import load_model
    m = load_model(model)
    if metric == "separability":
        return separability(m.G, m.prior, seed=seed)["separability"]
    if metric == "ppl":
        return latent_metrics.ppl(m.G, m.prior, N, seed=seed, conditional=m.conditional)
    x, _ = generate(m.G, m.prior, N, generator=torch.Generator().manual_seed(seed))
    return latent_metrics.authenticity(x, "features")["authenticity"]


def value(model: str, metric: str, seed: int) -> float:
    """One latent number of a model at a sampling seed, stored beside its scores once measured."""
    from core.eval.score import stored
    from core.explore.latent_scores import LATENT_VERSION
    return stored(model, f"{metric}=v{LATENT_VERSION}", N, seed, None,
                  lambda: {"value": round(float(_measure(model, metric, seed)), 5)})["value"]


@functools.lru_cache(maxsize=1)
def real_authenticity() -> float:
    """The authenticity of the 10k test digits against the training split: what no copying looks like."""
    from core.eval import latent_metrics
    from core.store.mnist import load_split, to_model_range
    x, _ = load_split("test")
    return latent_metrics.authenticity(to_model_range(x), "features")["authenticity"]


def _latent(c: dict, seeds) -> dict:
    metric, higher = c["metric"], HIGHER_IS_BETTER[c["metric"]]
    parts, verdicts, differences = [], [], {}
    for a, b in c["pairs"]:
        va, vb = [value(a, metric, s) for s in seeds], [value(b, metric, s) for s in seeds]
        diffs = [(x - y) if higher else (y - x) for x, y in zip(va, vb)]
        spread = max((statistics.stdev(v) for v in (va, vb) if len(v) > 1), default=0.0)
        mean = statistics.mean(diffs)
        lead = f"{a} {'better' if mean > 0 else 'worse' if mean < 0 else 'level'} than {b}"
        v, why = judged(metric, lead, diffs, spread)
        pair = _like_for_like({"basis": "", "verdict": v, "why": why}, [a, b])
        differences[f"{a} vs {b}"] = pair["differences"]
        parts.append(f"{metric}: {a} {_fmt(va)} vs {b} {_fmt(vb)}")
        verdicts.append((pair["verdict"], f"{a} vs {b}: {pair['why']}"))
    res = _combine(parts, verdicts, f"n {N} per sampling seed {list(seeds)}; one training run per model")
    models = sorted({m for pair in c["pairs"] for m in pair})
    return {**res, "models": models, "differences": differences}


def _copies(c: dict, seeds) -> dict:
    real = real_authenticity()
    parts, flagged = [], []
    for model in c["among"]:
        vals = [value(model, "authenticity", s) for s in seeds]
        spread = statistics.stdev(vals) if len(vals) > 1 else 0.0
        v, _ = verdict([real - x for x in vals], spread)  # "supported" here = the real digits are clearly more authentic
        parts.append(f"{model} {_fmt(vals)}")
        if v == "supported":
            flagged.append(model)
    why = (f"less authentic than real test digits ({real:.3f}) on every seed by more than 2× the spread: "
           f"{', '.join(flagged)}" if flagged else
           f"no model is less authentic than real test digits ({real:.3f}) on every seed by more than 2× the spread")
    return {"evidence": f"authenticity (features; real test digits {real:.3f}): " + ", ".join(parts),
            "verdict": "refuted" if flagged else "supported", "why": why, "models": list(c["among"]),
            "basis": f"n {N} per sampling seed {list(seeds)}; the real digits' authenticity is one number (the test split)",
            "warnings": []}


KINDS = {"latent": _latent, "copies": _copies}
