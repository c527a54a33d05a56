"""Time-to-quality: what a user gets from S seconds of training, not how fast a step is.

`bench_quality` trains a variant from scratch under a wall-time budget (cfg max_seconds:
everything a real run does is inside it — data, logging, grids, timeline records,
checkpoints), then scores the run's sampled generator on n digits. Several seeds give the
spread: quality at equal time is noisy. The runs are ordinary runs (tag bench=quality): they
stay in the run store, to open, score or compare like any other.
"""
from __future__ import annotations

import statistics
import time

from core.eval.names import METRICS

RAW = tuple(f"{m}_raw" for m in METRICS)  # the same run's live generator, where the run keeps an EMA
VALID = tuple(f"{m}_valid" for m in METRICS)  # the same samples against the validation split: what recipes are chosen on
KEYS = ("epochs", "steps", "img_s", "wall_seconds", "train_seconds", *METRICS, *RAW, *VALID)
FAR = 100_000  # epochs: the time budget, not the epoch count, ends a timed run


def train_for(variant: str, seconds: float, seed: int = 0, overrides: dict | None = None,
              device: str = "auto", progress: bool = False, tags: dict | None = None):
    """One run from scratch that stops once `seconds` of wall time have passed; returns its Run."""
    from core.gan.variants import make_config
    from core.store.runs import Run
    from core.train.engine import Trainer, resolve_device
    cfg = make_config(variant, {**(overrides or {}), "seed": seed, "max_seconds": seconds, "epochs": FAR})
    argv = ["train", "--variant", variant, *[f"--set={k}={v}" for k, v in (overrides or {}).items()],
            f"--set=seed={seed}", f"--set=max_seconds={seconds:g}", f"--set=epochs={FAR}"]
    run = Run.create(cfg, argv=argv, tags={"bench": "quality", **(tags or {})})
    try:
        status = Trainer(cfg, resolve_device(device), run=run, progress=progress).fit()
    finally:
        run.close()
    if status != "done":  # cancelled (Ctrl-C, SIGTERM): its scores would not be of S seconds of training
        from core.errors import RunError
        raise RunError(f"run {run.id} was cancelled after {run.status().get('wall_seconds', 0):.0f} s of its "
                       f"{seconds:g} s budget: not scored, nothing shipped")
    return run


def one(variant: str, seconds: float, seed: int = 0, overrides: dict | None = None, n: int = 10_000,
        device: str = "auto", progress: bool = False) -> dict:
    """Train for `seconds`, then score on n digits: the row of one seed. A run that keeps a
    generator EMA is scored twice: its EMA (what it samples and ships) and, as `fid_raw` etc.,
    its live generator — the generator of the same run without the EMA, which is only read from
    it (a run without the EMA spends the EMA's update time on more steps instead). The same
    samples are also scored against the validation split (`fid_valid` etc.): recipes are chosen
    on those, and reported on the test split's."""
    from core.eval.score import score_model
    t0 = time.perf_counter()
    run = train_for(variant, seconds, seed, overrides, device, progress)
    st = run.status()
    cfg = run.config()
    steps_per_epoch = -(-(cfg["data_limit"] or 50_000) // cfg["batch_size"])
    res = score_model(run.id, n=n, seed=0)
    raw = score_model(run.id, n=n, seed=0, raw=True) if cfg["ema"] > 0 else {}
    valid = score_model(run.id, n=n, seed=0, split="valid")
    return {"variant": variant, "seed": seed, "seconds": seconds, "run": run.id, "status": st["status"],
            "steps": st["step"], "epochs": round(st["step"] / steps_per_epoch, 2),
            "img_s": round(st["step"] * cfg["batch_size"] / max(st.get("wall_seconds") or 1e-9, 1e-9), 1),
            "train_img_s": round(st["step"] * cfg["batch_size"] / max(st["train_seconds"], 1e-9), 1),
            "wall_seconds": st.get("wall_seconds"), "train_seconds": round(st["train_seconds"], 2),
            "total_seconds": round(time.perf_counter() - t0, 2), "n": res["n"],
            **{k: res[k] for k in METRICS}, **{f"{k}_raw": raw[k] for k in METRICS if k in raw},
            **{f"{k}_valid": valid[k] for k in METRICS},
            "overrides": overrides or {}}


def summarise(rows: list[dict]) -> dict:
    """Median and spread (min, max) of each key over seeds."""
    out = {}
    for k in KEYS:
        vals = [r[k] for r in rows if isinstance(r.get(k), (int, float))]
        if vals:
            out[k] = statistics.median(vals)
            out[f"{k}_min"], out[f"{k}_max"] = min(vals), max(vals)
    return out


def bench_quality(variant: str = "wgan-gp", seconds: float = 540.0, seeds=(0,), overrides: dict | None = None,
                  n: int = 10_000, device: str = "auto", progress: bool = False, on_row=None,
                  threads: int | None = None) -> dict:
    """`one` per seed, in turn (never at once: each would slow the others), then the median. With
    `threads`, the process runs on that many cores and torch threads (core.cores.use_cores)."""
    from core.cores import use_cores
    cores = use_cores(threads)
    rows = []
    for seed in seeds:
        rows.append(one(variant, seconds, seed, overrides, n, device, progress))
        if on_row:
            on_row(rows[-1])
    return {"variant": variant, "seconds": seconds, "seeds": list(seeds), "n": n, "overrides": overrides or {},
            **cores, **summarise(rows), "runs": rows}


def interleaved_order(recipes: list[str], seeds) -> list[tuple[int, str]]:
    """(seed, recipe) in the order they are run: every recipe once per seed, the order rotated
    from one seed to the next (A B C, B C A, C A B …), so that no recipe always runs first or last
    while the machine's speed drifts."""
    return [(seed, recipes[(i + j) % len(recipes)]) for i, seed in enumerate(seeds) for j in range(len(recipes))]


def compare_recipes(variant: str, recipes: dict[str, dict], seconds: float = 540.0, seeds=(0, 1, 2),
                    n: int = 10_000, device: str = "auto", progress: bool = False, on_row=None,
                    threads: int | None = None) -> dict:
    """Compared recipes of one variant (name -> overrides), trained interleaved (`interleaved_order`)
    for `seconds` each, every run scored on the validation and the test split. The recipe with the
    lowest median validation FID is chosen; each recipe's result (as `bench_quality` gives it) is
    reported on the test split. Returns {"chosen", "chosen_on", "order", "recipes": {name: result}}."""
    if len(recipes) < 2:
        from core.errors import ConfigError
        raise ConfigError("--recipe: compare at least two (e.g. --recipe default --recipe seed)")
    from core.cores import use_cores
    cores = use_cores(threads)
    rows: dict[str, list[dict]] = {name: [] for name in recipes}
    order = interleaved_order(list(recipes), seeds)
    for seed, name in order:
        rows[name].append({**one(variant, seconds, seed, recipes[name], n, device, progress), "recipe": name})
        if on_row:
            on_row(rows[name][-1])
    results = {name: {"variant": variant, "seconds": seconds, "seeds": list(seeds), "n": n,
                      "overrides": recipes[name], **cores, **summarise(rs), "runs": rs} for name, rs in rows.items()}
    chosen = min(results, key=lambda name: results[name]["fid_valid"])
    return {"variant": variant, "chosen": chosen, "chosen_on": "median FID on the validation split",
            "order": [f"{name} (seed {seed})" for seed, name in order], "recipes": results}


# ---------------------------------------------------------------- the shipped table

SHIPPED = "quality.json"  # under trained/: `bench quality --ship RECIPE` rows, shown on the Overview
COLS = ("variant", "recipe", "cores", "seconds", "seeds", "fid", "fid_min", "fid_max", "precision", "recall", "coverage",
        "class_kl", "fid_raw", "fid_raw_min", "fid_raw_max", "fid_valid", "fid_valid_min", "fid_valid_max", "epochs",
        "img_s", "command")


def _shipped_path():
    from core.store.files import TRAINED
    return TRAINED / SHIPPED


def shipped_rows() -> list[dict]:
    """The shipped time-to-quality rows (variant, recipe, median scores over seeds), or []."""
    import json
    try:
        d = json.loads(_shipped_path().read_text())
    except (OSError, ValueError):
        return []
    rows = d.get("rows") if isinstance(d, dict) else None
    return [r for r in rows if isinstance(r, dict) and "variant" in r] if isinstance(rows, list) else []


def command(res: dict) -> str:
    sets = " ".join(f"--set {k}={v}" for k, v in res["overrides"].items())
    seeds = " ".join(f"--seed {s}" for s in res["seeds"])
    threads = f" --threads {res['threads']}" if res.get("threads") else ""
    return (f"python -m core bench quality --variant {res['variant']} --seconds {res['seconds']:g}{threads} {seeds} "
            f"{sets}").strip()


def comparison_command(argv: list[str]) -> str:
    """The `bench quality --recipe …` command line that compared recipes, quoted to be pasted."""
    import shlex
    return "python -m core " + " ".join(shlex.quote(a) for a in argv)


def ship(res: dict, recipe: str, comparison: dict | None = None, argv: list[str] | None = None) -> dict:
    """Keep `res` (a bench_quality result) as the row of (variant, recipe) in trained/quality.json;
    a recipe of a `compare_recipes` comparison keeps what it was compared with, which was chosen (on
    the validation split) and the order the runs ran in, and the comparison's command."""
    from core.eval.fingerprints import fingerprint
    from core.store.files import write_json_atomic
    row = {"variant": res["variant"], "recipe": recipe, "seconds": res["seconds"], "seeds": len(res["seeds"]),
           "cores": res.get("cores", 2), "threads": res.get("threads", 2),
           **{k: res[k] for k in COLS if k in res and k not in ("variant", "seconds", "seeds", "cores")},
           "overrides": res["overrides"], "runs": [r["run"] for r in res["runs"]],
           "per_seed_fid": [round(r["fid"], 3) for r in res["runs"]], "n": res["n"],
           **({"per_seed_fid_raw": [round(r["fid_raw"], 3) for r in res["runs"]]}
              if all("fid_raw" in r for r in res["runs"]) else {}),
           **({"per_seed_fid_valid": [round(r["fid_valid"], 3) for r in res["runs"]]}
              if all("fid_valid" in r for r in res["runs"]) else {}),
           **({"compared": {"recipes": sorted(comparison["recipes"]), "chosen": comparison["chosen"],
                            "chosen_on": comparison["chosen_on"], "order": comparison["order"]}}
              if comparison else {}),
           "date": time.strftime("%Y-%m-%d"), "command": comparison_command(argv) if argv else command(res),
           "fingerprint": fingerprint()}  # trained from scratch: what scored it (freshness.quality_note)
    rows = [r for r in shipped_rows() if row_key(r) != row_key(row)]
    rows.append(row)
    rows.sort(key=lambda r: (r["variant"], r.get("recipe", ""), r.get("cores", 2)))
    write_json_atomic(_shipped_path(), {"about": "FID etc. after `seconds` of wall-time training from scratch "
                                                 "(everything included) on `cores` CPU cores with as many torch "
                                                 "threads, scored on n digits; median over seeds, with the range",
                                        "rows": rows})
    return row


def row_key(row: dict) -> tuple:
    """What a shipped row is the row of: a variant's recipe on a number of cores (2 where unsaid)."""
    return row["variant"], row.get("recipe"), row.get("cores", 2)


RECIPES_HELP = ("default: today's defaults (generator EMA, batch chosen by time to quality); seed: the seed's own "
                "recipe; custom: anything else (its knobs beside it)")  # the leaderboard's and this table's words


def recipe_label(row: dict) -> str:
    """A shipped row's recipe in the leaderboard's words ("default", "seed", "custom: k=v …"),
    judged from the knobs it was run with (as `variants.recipe_of` judges a run's config)."""
    from core.errors import LabError
    from core.gan.variants import make_config, recipe_of
    sets = row.get("overrides") or {}
    try:
        name = recipe_of(make_config(row["variant"], sets))
    except (LabError, KeyError, TypeError, ValueError):
        return str(row.get("recipe") or "custom")
    return name if name != "custom" else "custom: " + " ".join(f"{k}={v}" for k, v in sorted(sets.items()))


def _span(lo, hi) -> str | None:
    """"lo–hi", one number where the range is one (a single seed, or seeds that agree), None if unknown."""
    if lo is None or hi is None:
        return None
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}"


def table_rows(rows: list[dict] | None = None) -> list[dict]:
    """The time-to-quality table as the Overview shows it: every shipped row, best FID first (the
    rows without an FID last), recipes in the leaderboard's words, the FID's range over seeds
    (one number for a single seed)."""
    rows = shipped_rows() if rows is None else rows
    out = [{**{k: r.get(k) for k in COLS if k in r}, "recipe": recipe_label(r),
            "fid_range": _span(r.get("fid_min"), r.get("fid_max"))}
           for r in rows]
    return sorted(out, key=lambda r: (r.get("fid") is None, r.get("fid") or 0.0))
