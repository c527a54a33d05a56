"""A sweep's spec: what it varies (a grid, random draws, seeds) and how it is scored, parsed
from the command line and checked before anything starts (every trial's config is validated);
where sweeps live (runs/.sweeps/<name>/).
"""
from __future__ import annotations

import itertools
import math
import re
import time
from pathlib import Path

from core.errors import ConfigError
from core.eval.names import METRICS, PRDC
from core.gan.variants import make_config
from core.store.files import runs_dir
from core.sweeps.check import MAX_TRIALS, check_refine, check_trials, range_limit

KINDS = ("train", "refit", "refine")
SCHEDULERS = ("none", "asha")
MAXIMISE = PRDC  # the metrics a sweep maximises; the rest (FID, class KL) it minimises
DISTRIBUTIONS = ("loguniform", "uniform")
NAME_RE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}"


def sweeps_dir() -> Path:
    return runs_dir() / ".sweeps"


def sweep_dir(name: str) -> Path:
    if not re.fullmatch(NAME_RE, name or ""):
        raise ConfigError(f"sweep name {name!r}: use letters, digits, '.', '_' or '-'")
    return sweeps_dir() / name


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_grid(pairs: list[str]) -> dict[str, list]:
    """['prior_sigma=0.2,0.5', 'clip=0.01,0.1'] -> {'prior_sigma': [0.2, 0.5], 'clip': [0.01, 0.1]}."""
    out = {}
    for pair in pairs or []:
        key, sep, values = pair.partition("=")
        vals = [v.strip() for v in values.split(",") if v.strip()] if sep else []
        if not key.strip() or not vals:
            raise ConfigError(f"--grid takes key=v1,v2,…; got {pair!r}")
        out[key.strip()] = [_value(v) for v in vals]
    return out


def parse_random(pairs: list[str]) -> dict[str, list]:
    """['lr_g=loguniform:1e-5:1e-3'] -> {'lr_g': ['loguniform', 1e-05, 0.001]}."""
    out = {}
    for pair in pairs or []:
        key, _, spec = pair.partition("=")
        parts = spec.split(":")
        try:
            dist, lo, hi = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise ConfigError(f"--random takes key=loguniform:LOW:HIGH or key=uniform:LOW:HIGH; got {pair!r}") from None
        if dist not in DISTRIBUTIONS or len(parts) != 3 or not lo < hi or (dist == "loguniform" and lo <= 0):
            raise ConfigError(f"--random {pair}: a {' or '.join(DISTRIBUTIONS)} range LOW < HIGH "
                              "(LOW > 0 for loguniform)")
        out[key.strip()] = [dist, lo, hi]
    return out


def parse_range(text: str, max_trials: int = MAX_TRIALS) -> list[int]:
    """'1..20' or '1,2,5' -> [1, …] (a range is bounded before it is built)."""
    m = re.fullmatch(r"(\d+)\.\.(\d+)", text.strip())
    if m:
        range_limit(int(m.group(1)), int(m.group(2)), max_trials)
    try:
        vals = list(range(int(m.group(1)), int(m.group(2)) + 1)) if m else [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"expected A..B or a,b,c (integers); got {text!r}") from None
    if not vals or min(vals) < 1:
        raise ConfigError(f"expected positive integers; got {text!r}")
    return vals


def make_spec(kind: str = "train", variant: str | None = None, model: str | None = None, grid: dict | None = None,
              random: dict | None = None, samples: int = 1, seeds: list[int] | None = None,
              epochs: int | None = None, max_steps: int | None = None, scheduler: str = "none",
              metric: str = "fid", cpus_per_trial: int = 1, quick_n: int = 2000, score_n: int = 10_000,
              data_limit: int = 0, fixed: dict | None = None, name: str | None = None, method: str | None = None,
              n: int = 1000, max_trials: int = MAX_TRIALS, track: str | None = None) -> dict:
    """A sweep's spec, checked: every trial's config is validated before anything starts (the
    number of trials first: at most `max_trials`)."""
    if kind not in KINDS:
        raise ConfigError(f"sweep kind must be one of {', '.join(KINDS)}")
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    if metric not in METRICS:
        raise ConfigError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    grid, random, fixed, seeds = dict(grid or {}), dict(random or {}), dict(fixed or {}), list(seeds or [0])
    if not grid and not random and len(seeds) < 2:
        raise ConfigError("a sweep needs something to vary: --grid key=v1,v2, --random key=…, or --seeds 0,1")
    if cpus_per_trial < 1 or samples < 1 or quick_n < 11 or score_n < 11:
        raise ConfigError("--cpus-per-trial and --samples must be positive, --quick-n and --score-n at least 11")
    check_trials(grid, seeds, samples, max_trials)
    if kind == "train":
        make_config(variant or "", {**fixed, "data_limit": data_limit})  # the variant and fixed knobs
        for combo in itertools.product(*grid.values()):
            make_config(variant, {**fixed, **dict(zip(grid, combo)), "seed": seeds[0]})
        for key, (_dist, lo, hi) in random.items():
            make_config(variant, {**fixed, key: lo if isinstance(make_config(variant)[key], float) else int(lo)})
            make_config(variant, {**fixed, key: hi if isinstance(make_config(variant)[key], float) else int(hi)})
        epochs = epochs or make_config(variant, fixed)["epochs"]
    elif not model:
        raise ConfigError(f"a {kind} sweep needs a MODEL")
    elif kind == "refine":
        check_refine(method, grid)  # each knob is the method's, each value of its type and range
    name = name or "-".join([variant or Path(str(model)).stem, *grid, *random] + (["seeds"] if len(seeds) > 1 else [])
                            + [time.strftime("%Y%m%d-%H%M%S")])
    sweep_dir(name)  # checks the name
    return {"name": name, "kind": kind, "variant": variant, "model": model, "method": method, "grid": grid,
            "random": random, "samples": samples, "seeds": seeds, "epochs": epochs, "max_steps": max_steps,
            "scheduler": scheduler, "metric": metric, "cpus_per_trial": cpus_per_trial, "quick_n": quick_n,
            "score_n": score_n, "data_limit": data_limit, "fixed": fixed, "n": n,
            **({"track": track} if track else {})}  # only when set: older sweeps' specs still match


def fingerprint_of(spec: dict) -> dict:
    """What a sweep's scores depend on: the swept model's checkpoint (refit, refine) and the
    classifier; a train sweep trains from scratch, so only the classifier that scored it."""
    from core.eval.fingerprints import fingerprint
    return fingerprint(*([spec["model"]] if spec["kind"] != "train" else []))


def n_trials(spec: dict) -> int:
    return math.prod(len(v) for v in spec["grid"].values()) * len(spec["seeds"]) * spec["samples"]


def swept_knobs(spec: dict) -> list[str]:
    return [*spec["grid"], *spec["random"]] + (["seed"] if len(spec["seeds"]) > 1 else [])
