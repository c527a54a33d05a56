"""The seeds' claims, each checked on this project's own models and numbers.

A claim is data: which write-up makes it (`writeup_id`, "000".."004": the course calls its research
write-ups "seeds"; the *sampling* seeds below are random seeds), its words, and how to test it here. Kinds:

* ``compare`` -- model A beats model B on some metrics. Both shipped zoo models are scored on
  10k samples with several sampling seeds (cached like every score); the claim is *supported*
  when A is better on every seed by more than twice the seed-to-seed spread, *refuted* when B
  is, else *inconclusive*. The spread is sampling noise only: every zoo model is one training
  run, as in the seeds, so a training-seed spread is not measured here (said in each row).
* ``refine`` -- a refinement (DRS, DOT) improves a metric of a model: before vs after on the
  same proposal pool, per sampling seed, the same rule.
* ``sweep`` -- a knob's effect over several values (seed 002's σ): one run per value, found
  in the run store by its exact config; the extremes are compared per metric, in the claimed
  direction, by the same rule.
* ``refit`` -- seed 004's EM refit: the model's prior against a mixture fitted on the codes of
  *every* train digit (inverted once, cached chunk by chunk), scored against the test split.
* ``needs`` -- anything the project cannot measure yet: the row says so and stays *not measured*.

``sweep`` and ``refit`` need work the zoo does not ship (trainings, a 50k inversion): without it
their row is *not measured* and names the command; `findings --train` (``train=True``) does it.

`findings()` returns the rows; `python -m core findings [--json]` prints them and the Findings
page shows them.
"""
from __future__ import annotations

import json
import math
import statistics
import time

from core.errors import ConfigError
from core.eval.names import LOWER_IS_BETTER
from core.results.claims import CLAIMS, STATEMENTS, WRITEUPS
from core.results.latent_findings import KINDS as LATENT_KINDS
from core.results.verdicts import _better, _combine, _fmt, _like_for_like, _spread, collapsed, judged, verdict  # noqa: F401

SEEDS = (0, 1, 2)
N = 10_000          # digits per score (the zoo's own n)
# The rule a row of each kind is judged by (1 where unrecorded); a shipped row judged by another is
# recomputed. compare/best 2: like for like over the models' whole configs (training_differences), rows
# carry their models and differences; refit 2: the saved prior must be fitted to the model's checkpoint, the
# statistic judged by the spread of the combination; sweep 2: a row of a supported and a refuted metric is mixed;
# compare 3: the equal-wall-time basis from trained/quality.json beside the equal-epochs one.
RULES = {"compare": 3, "best": 2, "refit": 2, "sweep": 2}
# The rule, as the Findings page and the README state it (a test holds the README to it).
VERDICT_RULE = ("A claim is supported when it holds on every sampling seed by more than twice the seed-to-seed spread, "
                "refuted when the reverse holds on every seed, and otherwise inconclusive. A \"no gain\" claim (A does not "
                "beat B) is supported unless A beats B on every seed by more than twice the spread: no clear gain counts "
                "as no gain. A row whose metrics disagree is mixed (one supported, another refuted), or partly supported "
                "/ partly refuted (the others inconclusive), and shows each metric's verdict. A row whose models were "
                "trained differently in anything but what the claim is about is inconclusive (not like for like).")
REFINE_N = 2_000    # proposals per refinement run (each scored before and after)


def _scores(model: str, seeds, prior: str | None = None) -> list[dict]:
    from core.eval.score import score_model
    return [score_model(model, n=N, seed=s, prior=prior) for s in seeds]


def combined_spread(orig: list[dict], refit: list[dict]) -> float:
    """The seed-to-seed spread of (recall drop − precision drop), a sum of four scores: their spreads
    added in quadrature (each score sampled independently), not the spread of one of them."""
    sds = [statistics.stdev([r[m] for r in rs]) for rs in (orig, refit) for m in ("precision", "recall") if len(rs) > 1]
    return math.sqrt(sum(sd * sd for sd in sds))


def _compare(c: dict, seeds) -> dict:
    ra, rb = _scores(c["a"], seeds), _scores(c["b"], seeds)
    parts, verdicts = [], []
    for m in c["metrics"]:
        va, vb = [r[m] for r in ra], [r[m] for r in rb]
        diffs = [_better(m, x, y) for x, y in zip(va, vb)]
        mean = statistics.mean(diffs)
        lead = f"{c['a']} {'better' if mean > 0 else 'worse' if mean < 0 else 'level'} than {c['b']}"
        if c.get("expect") == "no gain":  # the claim is that A does *not* beat B
            v, _ = verdict(diffs, _spread(ra, rb, metric=m))
            why = {"supported": f"{m}: {lead} on every seed by more than 2× the spread: a gain, against the claim",
                   "refuted": f"{m}: {lead} on every seed by more than 2× the spread: no gain, as claimed",
                   "inconclusive": f"{m}: {lead}, within 2× the sampling spread: no gain, as claimed"}[v]
            v = "refuted" if v == "supported" else "supported"
        else:
            v, why = judged(m, lead, diffs, _spread(ra, rb, metric=m))
        parts.append(f"{m}: {c['a']} {_fmt(va)} vs {c['b']} {_fmt(vb)}")
        verdicts.append((v, why))
    per_metric = [{"metric": m, "verdict": v} for m, (v, _) in zip(c["metrics"], verdicts)]
    verdicts += [("note", w) for n, rs in ((c["a"], ra), (c["b"], rb)) if (w := collapsed(n, rs))]
    res = _combine(parts, verdicts, f"n {N}, sampling seeds {list(seeds)}; one training run per model")
    res = _like_for_like({**res, "metric_verdicts": per_metric}, [c["a"], c["b"]], tuple(c.get("about", ())))
    if eq := equal_time(c["a"], c["b"]):  # the seeds compared at equal time budgets as often as at equal epochs
        res.update(equal_time=eq, basis=res["basis"] + f"; at equal wall time ({eq['seconds']:.0f} s from scratch, each "
                   f"on today's defaults, trained/quality.json): FID {c['a']} {eq[c['a']]['fid']:.2f} vs {c['b']} "
                   f"{eq[c['b']]['fid']:.2f} ({eq[c['a']]['seeds']} and {eq[c['b']]['seeds']} training seed(s))")
    return res


def equal_time(a: str, b: str) -> dict | None:
    """Both models' time-to-quality rows at the same budget on today's defaults (trained/quality.json):
    {"seconds": s, a: {"fid", "seeds"}, b: {…}}, or None when the table has no such pair."""
    from core.results.quality import shipped_rows
    by_budget: dict[float, dict] = {}
    for r in shipped_rows():
        if r.get("recipe") == "default":
            by_budget.setdefault(r["seconds"], {})[r["variant"]] = r
    for secs, rows in sorted(by_budget.items()):
        if a in rows and b in rows:
            return {"seconds": secs, **{m: {"fid": rows[m]["fid"], "seeds": rows[m]["seeds"]} for m in (a, b)}}
    return None


def _best(c: dict, seeds) -> dict:
    m = c["metrics"][0]
    runs = {name: _scores(name, seeds) for name in c["among"]}
    means = {n: statistics.mean(r[m] for r in rs) for n, rs in runs.items() if n != c["a"]}
    rival = (min if m in LOWER_IS_BETTER else max)(means, key=means.get)  # the best of the others
    va, vb = [r[m] for r in runs[c["a"]]], [r[m] for r in runs[rival]]
    diffs = [_better(m, x, y) for x, y in zip(va, vb)]
    lead = f"{c['a']} {'better' if statistics.mean(diffs) > 0 else 'worse'} than the next best, {rival}"
    res = _combine([f"{m}: " + ", ".join(f"{n} {_fmt([r[m] for r in rs])}" for n, rs in runs.items())],
                   [judged(m, lead, diffs, _spread(runs[c["a"]], runs[rival], metric=m))]
                   + [("note", w) for n, rs in runs.items() if (w := collapsed(n, rs))],
                   f"n {N}, sampling seeds {list(seeds)}; one training run per model")
    return _like_for_like(res, list(runs))


def _refined(model: str, method: str, seed: int) -> dict:
    """refine_model's numbers, cached on disk by the checkpoint's sha256, method, n and seed."""
    from core.eval.score_files import VERSION, cache_dir
    from core.explore.refine import refine_model
    from core.store.checkpoint import file_sha256
    from core.store.files import write_json_atomic
    from core.store.registry import resolve
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
        diffs = [_better(m, a, b) for a, b in zip(after, before)]
        move = statistics.mean(after) - statistics.mean(before)
        change = f"{'rises' if move > 0 else 'falls' if move < 0 else 'stays'} {_fmt(before)} → {_fmt(after)}"
        parts.append(f"{m}: {_fmt(before)} → {_fmt(after)}")
        verdicts.append(judged(m, change, diffs, spread))
    return _combine(parts, verdicts, f"{c['model']}, {c['method']} with its defaults, n {REFINE_N} proposals, "
                                     f"seeds {list(seeds)} (one shared pool per seed)")


def _saturation(c: dict, seeds) -> dict:
    from core.store.registry import zoo_dir
    curves = json.loads((zoo_dir(c["model"]) / "curves.json").read_text())
    last = {k: v[-1][1] for k, v in curves.items() if k.startswith("clip_sat_l") and v}
    text = ", ".join(f"layer {k[-1]} {v:.1%}" for k, v in sorted(last.items()))
    return {"evidence": f"weights at ±c at the end of training: {text}", "verdict": "inconclusive",
            "why": "'reasonable' is not a measurable threshold; the fractions are shown for the reader to judge "
                   "(per-epoch histograms before clipping: Train page of a wgan-wc run)",
            "basis": f"the shipped {c['model']}'s logged clip saturation"}


def sweep_configs(c: dict) -> list[dict]:
    from core.gan.variants import make_config, seed_recipe  # a seed's claim is checked with the seed's recipe
    return [make_config(c["variant"], {**seed_recipe(c["variant"]), **c.get("sets", {}), c["knob"]: v})
            for v in c["values"]]


def _sweep_run(cfg: dict, train: bool) -> str | None:
    """The newest finished run of exactly `cfg` (trained now when `train`), else None."""
    from core.errors import LabError
    from core.gan.variants import complete_saved
    from core.store.runs import list_runs
    from core.train.zoo import train_args, train_subprocess
    want = train_args(cfg)
    for run in reversed(list_runs()):
        try:
            if run.status().get("status") == "done" and train_args(complete_saved(run.config())) == want:
                return run.id
        except (LabError, KeyError, ValueError):
            continue  # an unreadable run is listed elsewhere; it is not evidence
    return train_subprocess(cfg) if train else None


def _sweep(c: dict, seeds, train: bool = False) -> dict:
    from core.train.zoo import train_command
    cfgs = sweep_configs(c)
    runs = [_sweep_run(cfg, train) for cfg in cfgs]
    if None in runs:
        todo = "; ".join(train_command(cfg) for cfg, r in zip(cfgs, runs) if r is None)
        return {"evidence": "", "verdict": "not measured",
                "why": f"needs one run per {c['knob']}: `python -m core findings --train` trains them, or: {todo}",
                "basis": ""}
    scores = [_scores(r, seeds) for r in runs]
    lo, hi = scores[0], scores[-1]  # the extremes of the sweep carry the verdict
    parts, verdicts = [], []
    for m, direction in c["trend"].items():
        parts.append(f"{m}: " + ", ".join(f"{c['knob']} {v} {_fmt([r[m] for r in rs])}"
                                          for v, rs in zip(c["values"], scores)))
        diffs = [(b[m] - a[m]) * (1 if direction == "up" else -1) for a, b in zip(lo, hi)]
        move = statistics.mean(r[m] for r in hi) - statistics.mean(r[m] for r in lo)
        change = (f"{'rises' if move > 0 else 'falls' if move < 0 else 'stays'} {_fmt([r[m] for r in lo])} → "
                  f"{_fmt([r[m] for r in hi])} from {c['knob']} {c['values'][0]} to {c['values'][-1]} (claimed: "
                  f"{'rises' if direction == 'up' else 'falls'})")
        verdicts.append(judged(m, change, diffs, _spread(lo, hi, metric=m)))
    verdicts += [("note", w) for v, rs in zip(c["values"], scores) if (w := collapsed(f"{c['knob']} {v}", rs))]
    return _combine(parts, verdicts, f"runs {', '.join(runs)} ({c['variant']}, "
                                     + ", ".join(f"{k} {v}" for k, v in c.get("sets", {}).items())
                                     + f"; one training run per value), n {N}, sampling seeds {list(seeds)}")


def _refit(c: dict, seeds, train: bool = False) -> dict:
    from core.explore.latent import invert_and_refit
    from core.store.mnist import SIZES
    from core.store.registry import list_priors, prior_meta, prior_mismatch
    n, steps = c.get("n", 0), c.get("steps", 1000)  # n 0 = every train digit
    name = f"findings-em-k{c['components']}-{c['covariance']}-{n or 'all'}"  # saved beside the model
    meta = prior_meta(c["model"], name) if name in list_priors(c["model"]) else {}
    mismatch = prior_mismatch(c["model"], meta) if meta else None  # fitted to another checkpoint: refit it
    have = not mismatch and meta.get("n") == (n or SIZES["train"]) and meta.get("steps") == steps
    if not have and not train:
        return {"evidence": "", "verdict": "not measured", "basis": "",
                "why": (f"the saved prior {name} {mismatch}; " if mismatch else "")
                       + f"needs {n or 'every'} train digit(s) inverted (all 50k: about 25 min on 2 cores, cached): "
                       f"`python -m core findings --train`, or `python -m core invert {c['model']} --n {n} "
                       f"--steps {steps} --components {c['components']} --covariance {c['covariance']} --name {name}`"}
    if not have:
        invert_and_refit(c["model"], n=n, k=c["components"], covariance=c["covariance"], steps=steps, name=name,
                         score_n=None)
    meta = prior_meta(c["model"], name)
    orig, refit = _scores(c["model"], seeds), _scores(c["model"], seeds, prior=name)
    drop = {m: [o[m] - r[m] for o, r in zip(orig, refit)] for m in ("precision", "recall")}
    diffs = [dr - dp for dr, dp in zip(drop["recall"], drop["precision"])]
    v, why = judged("recall's drop minus precision's", f"is {_fmt(diffs)}", diffs, combined_spread(orig, refit))
    ev = "; ".join(f"{m}: {_fmt([o[m] for o in orig])} → {_fmt([r[m] for r in refit])}"
                   + (f" (drop {_fmt(drop[m])})" if m in drop else "") for m in ("precision", "recall", "fid"))
    notes = [w for label, rs in ((c["model"], orig), (f"its {c['components']}-component refit", refit))
             if (w := collapsed(label, rs))]
    return {"evidence": ev, "verdict": v, "why": "; ".join(["⚠ " + n for n in notes] + [why]), "warnings": notes,
            "basis": f"{c['model']}, {meta.get('k')} {c['covariance']} components fitted on {meta.get('n')} inverted "
                     f"{meta.get('split')} digits ({meta.get('steps')} steps, RMS error "
                     f"{meta.get('recon_rmse_mean', float('nan')):.3f}); n {N}, sampling seeds {list(seeds)}"}


KINDS = {"compare": _compare, "best": _best, "refine": _refine, "saturation": _saturation,
         "sweep": _sweep, "refit": _refit, **LATENT_KINDS}
LONG = ("sweep", "refit")  # kinds that train or invert when asked to (`train=True`)


def shipped_work_minutes() -> float | None:
    """Minutes the shipped table's long rows (LONG: the σ sweep's trainings, the EM refit's inversions)
    took when they were computed (their `seconds`); None when the table records none."""
    from core.store.files import TRAINED
    try:
        rows = json.loads((TRAINED / SHIPPED).read_text())["rows"]
        kinds = {(c["writeup_id"], c["claim"]): c["kind"] for c in CLAIMS}
        total = sum(float(r.get("seconds") or 0) for r in rows if kinds.get((r["writeup_id"], r["claim"])) in LONG)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return total / 60 if total else None


def findings(seeds=SEEDS, train: bool = False, kept: dict | None = None) -> list[dict]:
    """Every claim with its evidence and verdict (scores and refinements are cached). `train`:
    also train the sweeps' runs and invert the refit's digits when missing (tens of minutes).
    `kept`: rows to reuse by (writeup_id, claim); None takes the shipped table's fresh ones
    (`shipped_rows`: same sampling seeds, none of the claim's models changed since `--ship`)."""
    if len(seeds) < 1:
        raise ConfigError("findings needs at least one sampling seed")
    from core.eval.fingerprints import fingerprint
    from core.store.files import code_version
    version = None  # asked of git only when a row is computed (a page showing shipped rows never is)
    kept = shipped_rows(seeds) if kept is None else kept
    rows = []
    for c in CLAIMS:
        if (c["writeup_id"], c["claim"]) in kept:
            rows.append({**kept[c["writeup_id"], c["claim"]], **row_head(c)})  # the claim's words are today's
            continue
        t0 = time.perf_counter()
        if c["kind"] == "needs":
            res = {"evidence": "", "verdict": "not measured", "why": f"needs: {c['command']}", "basis": ""}
        else:
            res = KINDS[c["kind"]](c, tuple(seeds), **({"train": train} if c["kind"] in LONG else {}))
        version = version or code_version()
        rows.append({**row_head(c), **res, "seconds": round(time.perf_counter() - t0, 1), "rule": RULES.get(c["kind"], 1),
                     "code_version": version, "fingerprint": fingerprint(*sorted(claim_models(c)))})
    return rows


def row_head(c: dict) -> dict:
    """A row's claim: its write-up id ('000'), write-up ('GANibal, 000'), short key and the claim in full."""
    wid = c["writeup_id"]
    return {"writeup_id": wid, "writeup": f"{WRITEUPS.get(wid, 'seed')}, {wid}", "claim": c["claim"],
            "statement": STATEMENTS.get(c["claim"], c["claim"])}


SHIPPED = "findings.json"  # under trained/: the table as `findings --ship` computed it


def claim_models(c: dict) -> set[str]:
    """The shipped models a claim's row depends on (a sweep's runs and a refit's prior are its own)."""
    return {m for m in (c.get("a"), c.get("b"), c.get("model"), *c.get("among", []),
                        *(m for pair in c.get("pairs", []) for m in pair)) if m}


def ship(rows: list[dict], seeds) -> None:
    """trained/findings.json: the rows, each with the fingerprint of the models it used."""
    from core.store.files import TRAINED, write_json_atomic
    write_json_atomic(TRAINED / SHIPPED, {"seeds": list(seeds), "rows": rows})


def shipped_state(seeds) -> tuple[dict[tuple, dict], list[tuple[str, list[str]]]]:
    """The shipped table's rows that are still fresh, by (writeup_id, claim) — computed with these
    sampling seeds, and the models and classifier of the claim are the ones they were computed on
    (`fingerprints.stale` of the row's fingerprint) — and (claim, what changed) of the stale ones."""
    from core.eval.fingerprints import stale
    from core.store.files import TRAINED
    try:
        d = json.loads((TRAINED / SHIPPED).read_text())
        rows = {(r["writeup_id"], r["claim"]): r for r in d["rows"] if isinstance(r, dict)}
        shipped_seeds = d.get("seeds", [])
        if not isinstance(shipped_seeds, list) \
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in shipped_seeds):
            raise TypeError("its seeds are not a list of integers")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a damaged table: every row is recomputed
        return {}, []
    if sorted(shipped_seeds) != sorted(seeds):
        return {}, []
    fresh, old = {}, []
    for c in CLAIMS:
        if (k := (c["writeup_id"], c["claim"])) in rows:
            changed = stale(rows[k].get("fingerprint"), *sorted(claim_models(c)))
            if rows[k].get("rule", 1) != RULES.get(c["kind"], 1):
                changed = [*changed, "the findings rule"]
            if changed:
                old.append((c["claim"], changed))
            else:
                fresh[k] = rows[k]
    return fresh, old


def keep_rows(kept: dict[tuple, dict], recompute: str | None) -> dict[tuple, dict]:
    """The fresh shipped rows to reuse: all of them (recompute None), none ('all'), or those whose
    claim is not of a kind in `recompute` ('sweep', 'refit,refine', …)."""
    if not recompute:
        return kept
    kinds = set(KINDS) if recompute == "all" else set(recompute.split(","))
    if bad := sorted(kinds - set(KINDS)):
        raise ConfigError(f"--recompute: {bad[0]} is not a kind of claim; use all or any of {', '.join(KINDS)}")
    kind = {(c["writeup_id"], c["claim"]): c["kind"] for c in CLAIMS}
    return {k: r for k, r in kept.items() if kind.get(k) not in kinds}


def shipped_rows(seeds) -> dict[tuple, dict]:
    """`shipped_state`'s fresh rows."""
    return shipped_state(seeds)[0]
