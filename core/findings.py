"""The seeds' claims, each checked on this project's own models and numbers.

A claim is data: which seed makes it, its words, and how to test it here. Three kinds:

* ``compare`` -- model A beats model B on some metrics. Both shipped zoo models are scored on
  10k samples with several sampling seeds (cached like every score); the claim is *supported*
  when A is better on every seed by more than twice the seed-to-seed spread, *refuted* when B
  is, else *inconclusive*. The spread is sampling noise only: every zoo model is one training
  run, as in the seeds, so a training-seed spread is not measured here (said in each row).
* ``refine`` -- a refinement (DRS, DOT) improves a metric of a model: before vs after on the
  same proposal pool, per sampling seed, the same rule.
* ``needs`` -- the evidence needs a model or a sweep the zoo does not ship: the row says which
  command produces it and stays *not measured*.

`findings()` returns the rows; `python -m core findings [--json]` prints them and the Findings
page shows them.
"""
from __future__ import annotations

import json
import statistics
import time

from .errors import ConfigError

LOWER_BETTER = {"fid", "class_kl"}
SEEDS = (0, 1, 2)
N = 10_000          # digits per score (the zoo's own n)
REFINE_N = 2_000    # proposals per refinement run (each scored before and after)

CLAIMS: list[dict] = [
    dict(seed="000", claim="WGAN-GP gives better coverage than weight clipping",
         kind="compare", a="wgan-gp", b="wgan-wc", metrics=["coverage"]),
    dict(seed="000", claim="Spectral normalisation is weaker than the gradient penalty",
         kind="compare", a="wgan-gp", b="wgan-sn", metrics=["fid", "coverage"]),
    dict(seed="000", claim="Gaussian-mixture priors bring no measurable improvement (same WGAN-GP loss)",
         kind="compare", a="gm-static-wgan", b="wgan-gp", metrics=["fid", "recall"], expect="no gain"),
    dict(seed="000", claim="Conditional + GMM (GMM-cWGAN-GP) struggles against the conditional WGAN-GP",
         kind="compare", a="cwgan-gp", b="gmm-cwgan-gp", metrics=["fid"]),
    dict(seed="000", claim="DRS filters low-quality samples (precision up)",
         kind="refine", model="wgan-gp", method="drs", metrics=["precision"]),
    dict(seed="001", claim="c = 0.01 gives 'a reasonable amount of saturation' of the clipped critic",
         kind="saturation", model="wgan-wc"),
    dict(seed="001", claim="DRS improves FID",
         kind="refine", model="wgan-gp", method="drs", metrics=["fid"]),
    dict(seed="001", claim="Target-space DOT improves FID (their 24.12 → 22.64: 20 steps, lr 0.01)",
         kind="refine", model="wgan-gp", method="dot-target", metrics=["fid"]),
    dict(seed="002", claim="A static GM prior improves recall over vanilla",
         kind="compare", a="gm-static", b="vanilla", metrics=["recall"]),
    dict(seed="002", claim="Smaller σ gives higher precision, larger σ more diversity (their Figure 1)",
         kind="needs", command="python -m core train --variant gm-static --set prior_sigma=S for S in 0.15, 0.5, 1 "
                               "(a σ sweep; the zoo ships one σ)"),
    dict(seed="002", claim="cWGAN-GP with learnable class Gaussians is the best of their models",
         kind="best", a="cwgan-gp", among=["vanilla", "gm-static", "wgan-gp", "cwgan-gp"], metrics=["fid"]),
    dict(seed="003", claim="Hinge loss beats a plain WGAN", kind="compare", a="hinge", b="wgan",
         metrics=["fid", "recall"]),
    dict(seed="003", claim="SAN beats its hinge base", kind="compare", a="san", b="hinge", metrics=["fid", "recall"]),
    dict(seed="004", claim="The dynamic supervised GM-GAN beats the vanilla baseline on FID, precision and recall",
         kind="compare", a="gm-dynamic", b="vanilla", metrics=["fid", "precision", "recall"]),
    dict(seed="004", claim="Vanilla skips classes; the dynamic GM-GAN does not (class histogram)",
         kind="compare", a="gm-dynamic", b="vanilla", metrics=["class_kl"]),
    dict(seed="004", claim="EM-refit sampling lowers recall more than precision",
         kind="needs", command="python -m core invert gm-static-wgan --n 0 (then score --prior em-…); "
                               "not run here yet: 50k inversions take most of an hour on 2 cores"),
]


def _better(metric: str, a: float, b: float) -> float:
    """How much better a is than b (positive = better)."""
    return (b - a) if metric in LOWER_BETTER else (a - b)


def verdict(diffs: list[float], spread: float) -> tuple[str, str]:
    """diffs: per-seed advantage of the claimed winner; spread: the seed-to-seed std of one score."""
    margin = 2 * spread
    if all(d > margin for d in diffs):
        return "supported", f"better on every seed by more than 2× the sampling spread ({margin:.3g})"
    if all(d < -margin for d in diffs):
        return "refuted", f"worse on every seed by more than 2× the sampling spread ({margin:.3g})"
    return "inconclusive", f"the difference is within 2× the sampling spread ({margin:.3g}) on some seed"


def _scores(model: str, seeds) -> list[dict]:
    from .score import score_model
    return [score_model(model, n=N, seed=s) for s in seeds]


def _spread(*runs: list[dict], metric: str) -> float:
    stds = [statistics.stdev([r[metric] for r in rs]) for rs in runs if len(rs) > 1]
    return max(stds) if stds else 0.0


def _fmt(vals: list[float]) -> str:
    m = statistics.mean(vals)
    return f"{m:.3g} ± {statistics.stdev(vals):.2g}" if len(vals) > 1 else f"{m:.3g}"


def _compare(c: dict, seeds) -> dict:
    ra, rb = _scores(c["a"], seeds), _scores(c["b"], seeds)
    parts, verdicts = [], []
    for m in c["metrics"]:
        va, vb = [r[m] for r in ra], [r[m] for r in rb]
        v, why = verdict([_better(m, x, y) for x, y in zip(va, vb)], _spread(ra, rb, metric=m))
        if c.get("expect") == "no gain":  # the claim is that A does *not* beat B
            why = {"supported": f"{c['a']} is better on every seed by more than 2× the spread: a gain",
                   "refuted": f"{c['a']} is worse on every seed by more than 2× the spread: no gain",
                   "inconclusive": "no difference beyond 2× the sampling spread: no gain"}[v]
            v = "refuted" if v == "supported" else "supported"
        parts.append(f"{m}: {c['a']} {_fmt(va)} vs {c['b']} {_fmt(vb)}")
        verdicts.append((v, f"{m}: {why}"))
    return _combine(parts, verdicts, f"n {N}, sampling seeds {list(seeds)}; one training run per model")


def _combine(parts, verdicts, basis) -> dict:
    kinds = {v for v, _ in verdicts}
    v = kinds.pop() if len(kinds) == 1 else ("partly supported" if "supported" in kinds else "inconclusive")
    return {"evidence": "; ".join(parts), "verdict": v, "why": "; ".join(w for _, w in verdicts), "basis": basis}


def _best(c: dict, seeds) -> dict:
    m = c["metrics"][0]
    runs = {name: _scores(name, seeds) for name in c["among"]}
    means = {n: statistics.mean(r[m] for r in rs) for n, rs in runs.items() if n != c["a"]}
    rival = (min if m in LOWER_BETTER else max)(means, key=means.get)  # the best of the others
    va, vb = [r[m] for r in runs[c["a"]]], [r[m] for r in runs[rival]]
    v, why = verdict([_better(m, x, y) for x, y in zip(va, vb)], _spread(runs[c["a"]], runs[rival], metric=m))
    return {"evidence": f"{m}: " + ", ".join(f"{n} {_fmt([r[m] for r in rs])}" for n, rs in runs.items()),
            "verdict": v, "why": f"against the next best ({rival}): {why}",
            "basis": f"n {N}, sampling seeds {list(seeds)}; one training run per model"}


def _refined(model: str, method: str, seed: int) -> dict:
    """refine_model's numbers, cached on disk by the checkpoint's sha256, method, n and seed."""
    from .checkpoint import resolve
    from .classifier import file_sha256
    from .refine import refine_model
    from .score import VERSION, cache_dir
    from .store import write_json_atomic
    path = cache_dir() / "findings" / (f"{method}_{file_sha256(resolve(model))[:16]}_n{REFINE_N}_s{seed}"
                                       f"_v{VERSION}.json")
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except ValueError:
            pass  # a damaged cache file is recomputed
    res = refine_model(model, method, n=REFINE_N, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, res)
    return res


def _refine(c: dict, seeds) -> dict:
    runs = [_refined(c["model"], c["method"], s) for s in seeds]
    parts, verdicts = [], []
    for m in c["metrics"]:
        before, after = [r["before"][m] for r in runs], [r["after"][m] for r in runs]
        spread = max(statistics.stdev(before), statistics.stdev(after)) if len(runs) > 1 else 0.0
        v, why = verdict([_better(m, a, b) for a, b in zip(after, before)], spread)
        parts.append(f"{m}: {_fmt(before)} → {_fmt(after)}")
        verdicts.append((v, f"{m}: {why}"))
    return _combine(parts, verdicts, f"{c['model']}, {c['method']} with its defaults, n {REFINE_N} proposals, "
                                     f"seeds {list(seeds)} (one shared pool per seed)")


def _saturation(c: dict, seeds) -> dict:
    from .zoo import model_dir
    curves = json.loads((model_dir(c["model"]) / "curves.json").read_text())
    last = {k: v[-1][1] for k, v in curves.items() if k.startswith("clip_sat_l") and v}
    text = ", ".join(f"layer {k[-1]} {v:.1%}" for k, v in sorted(last.items()))
    return {"evidence": f"weights at ±c at the end of training: {text}", "verdict": "inconclusive",
            "why": "'reasonable' is not a measurable threshold; the fractions are shown for the reader to judge "
                   "(per-epoch histograms before clipping: Train page of a wgan-wc run)",
            "basis": f"the shipped {c['model']}'s logged clip saturation"}


KINDS = {"compare": _compare, "best": _best, "refine": _refine, "saturation": _saturation}


def findings(seeds=SEEDS) -> list[dict]:
    """Every claim with its evidence and verdict (scores and refinements are cached)."""
    if len(seeds) < 1:
        raise ConfigError("findings needs at least one sampling seed")
    rows = []
    for c in CLAIMS:
        t0 = time.perf_counter()
        if c["kind"] == "needs":
            res = {"evidence": "", "verdict": "not measured", "why": f"needs: {c['command']}", "basis": ""}
        else:
            res = KINDS[c["kind"]](c, tuple(seeds))
        rows.append({"seed": c["seed"], "claim": c["claim"], **res, "seconds": round(time.perf_counter() - t0, 1)})
    return rows


SHIPPED = "findings.json"  # under trained/: the table as `findings --ship` computed it


def zoo_fingerprint() -> str:
    """Changes when a shipped model that a claim uses changes (the shipped table is then stale)."""
    from .zoo import index
    used = {m for c in CLAIMS for m in (c.get("a"), c.get("b"), c.get("model"), *c.get("among", [])) if m}
    return json.dumps({k: v.get("scores", {}).get("fid") for k, v in sorted(index().items()) if k in used},
                      sort_keys=True)


def ship(rows: list[dict], seeds) -> None:
    from .classifier import TRAINED
    from .store import write_json_atomic
    write_json_atomic(TRAINED / SHIPPED, {"seeds": list(seeds), "zoo": zoo_fingerprint(), "rows": rows})


def shipped() -> dict | None:
    """The shipped table, or None when there is none or the zoo changed since it was computed."""
    from .classifier import TRAINED
    try:
        d = json.loads((TRAINED / SHIPPED).read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and d.get("zoo") == zoo_fingerprint() and isinstance(d.get("rows"), list) else None
