"""The verdict rule every finding is judged by, and what a row says about how its models were
trained (like for like or not). core/results/findings.py (the seeds' claims) and
core/results/latent_findings.py (the latent space's) build their rows with these."""
from __future__ import annotations

import statistics

from core.eval.names import LOWER_IS_BETTER


def _better(metric: str, a: float, b: float) -> float:
    """How much better a is than b (positive = better)."""
    return (b - a) if metric in LOWER_IS_BETTER else (a - b)


def verdict(diffs: list[float], spread: float) -> tuple[str, str]:
    """diffs: per-seed advantage of the claimed winner; spread: the seed-to-seed std of one score."""
    margin = 2 * spread
    if all(d > margin for d in diffs):
        return "supported", f"better on every seed by more than 2× the sampling spread ({margin:.3g})"
    if all(d < -margin for d in diffs):
        return "refuted", f"worse on every seed by more than 2× the sampling spread ({margin:.3g})"
    return "inconclusive", f"the difference is within 2× the sampling spread ({margin:.3g}) on some seed"


def judged(metric: str, change: str, diffs: list[float], spread: float) -> tuple[str, str]:
    """(verdict, why) of one half of a claim, saying which way the metric went: `change` tells
    how it moved ('falls 0.842 → 0.818'); diffs: per seed, the move in the claimed direction."""
    v, rule = verdict(diffs, spread)
    mean = statistics.mean(diffs)
    way = "as claimed" if mean > 0 else "against the claim" if mean < 0 else "no change"
    if v == "inconclusive":
        way += ", but within noise"
    return v, f"{metric} {change}: {way} ({rule})"


COLLAPSE_SHARE = 0.9  # a model whose digits read as one class this often makes (almost) only that digit


def collapsed(label: str, runs: list[dict]) -> str | None:
    """A warning when a model's samples collapse to one class (its class histogram, averaged
    over seeds, puts COLLAPSE_SHARE or more on one digit); None otherwise."""
    hists = [r["class_hist"] for r in runs if r.get("class_hist")]
    if not hists:
        return None
    mean = [statistics.mean(h[d] for h in hists) for d in range(10)]
    top = max(range(10), key=mean.__getitem__)
    if mean[top] < COLLAPSE_SHARE:
        return None
    kl = statistics.mean(r["class_kl"] for r in runs if r.get("class_kl") is not None)
    return (f"{label} has collapsed: {mean[top]:.0%} of its digits read as {top} (class KL to uniform {kl:.2f}), "
            "so its scores measure a failed model")


def _spread(*runs: list[dict], metric: str) -> float:
    stds = [statistics.stdev([r[metric] for r in rs]) for rs in runs if len(rs) > 1]
    return max(stds) if stds else 0.0


def _fmt(vals: list[float]) -> str:
    m = statistics.mean(vals)
    return f"{m:.3g} ± {statistics.stdev(vals):.2g}" if len(vals) > 1 else f"{m:.3g}"


RECIPE_WORDS = {"default": "today's defaults", "seed": "its seed's recipe", "custom": "a custom recipe", None: "?"}


def _like_for_like(res: dict, models: list[str], about: tuple[str, ...] = ()) -> dict:
    """Compare the models' whole training configs, not their recipe labels: a row whose models differ in
    anything but what the claim is about (core.gan.variants.training_differences: epochs, batch size,
    learning rates, EMA, … — bookkeeping excluded) is inconclusive, whatever its numbers say; it names
    each difference and the command that evens it. The row carries its models and differences as data."""
    from core.gan.variants import training_differences
    from core.train.zoo import shipped_recipe
    configs = {m: _config(m) for m in models}
    diffs = training_differences(configs, about)
    rec = {m: shipped_recipe(m) for m in models}
    res = dict(res, models=list(models), differences=diffs,
               basis=res["basis"] + "; recipes: " + ", ".join(f"{m} {RECIPE_WORDS[r]}" for m, r in rec.items()))
    if diffs:
        named = "; ".join(f"{d['knob']} " + " vs ".join(f"{d[m]} ({m})" for m in models) for d in diffs)
        hint = _retrain_hint(sorted(m for m, r in rec.items() if r != "default")) if len(set(rec.values())) > 1 else ""
        res.update(verdict="inconclusive",
                   why=f"not like for like: the models were trained differently in {named} (the numbers alone would "
                       f"say {res['verdict']}); to even it: {hint or _evening_command(configs, diffs)}; {res['why']}")
    return res


def _config(model: str) -> dict:
    """The config MODEL was trained with (a shipped zoo model's from zoo.json, else its checkpoint's)."""
    from core.store.registry import load_model
    from core.train.zoo import shipped_config
    return shipped_config(model) or load_model(model).config


def _evening_command(configs: dict[str, dict], diffs: list[dict]) -> str:
    """`python -m core train` of each model after the first with the first's values of every knob that differs."""
    first, *others = configs
    sets = " ".join(f"--set {d['knob']}={d[first]}" for d in diffs)
    return " and ".join(f"`python -m core train --variant {configs[m]['variant']} {sets}`" for m in others)


def _retrain_hint(odd: list[str]) -> str:
    """What would make the row like for like: the retrain command for the models not tried on
    today's defaults, and the score of each one whose retrain was tried and lost."""
    from core.train.zoo import lost_default_try
    lost = {m: t for m in odd if (t := lost_default_try(m))}
    said = [f"{m}'s retrain on today's defaults lost at equal epochs (FID {t['fid']:.2f} vs the shipped "
            f"{t['shipped_fid']:.2f}, trained/zoo.json tries), so it stays on its seed's recipe" for m, t in lost.items()]
    if todo := [m for m in odd if m not in lost]:
        said.append(f"retrain with `python -m core zoo train --recipe default --if-better --variants {','.join(todo)}`")
    return "; ".join(said)


def _combine(parts, verdicts, basis) -> dict:
    """One row of a claim's halves: (verdict, why) per metric, and ("note", warning) for what the
    reader must know first (a collapsed model). Halves that disagree say so in the verdict; each
    half's why says which way its metric went."""
    kinds = {v for v, _ in verdicts if v != "note"}
    if len(kinds) == 1:
        v = kinds.pop()
    elif {"supported", "refuted"} <= kinds:
        v = "mixed"
    else:
        v = "partly supported" if "supported" in kinds else "partly refuted" if "refuted" in kinds else "inconclusive"
    notes = [w for v_, w in verdicts if v_ == "note"]
    halves = [f"{v_.upper()}: {w}" if len(verdicts) - len(notes) > 1 else w for v_, w in verdicts if v_ != "note"]
    return {"evidence": "; ".join(parts), "verdict": v, "why": "; ".join(["⚠ " + n for n in notes] + halves),
            "basis": basis, "warnings": notes}
