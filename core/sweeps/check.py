"""What a sweep is checked against before Ray starts (issue 30): the shape of a stored sweep.json
(a reader reports a bad one by name and lists the rest), the number of trials, duplicate grid
values, the refine knobs' types and ranges, a Ray address and the limits Ray needs.
Torch-free and Ray-free: everything here runs before either is imported."""
from __future__ import annotations

import math
import re
import resource
import socket

from core.errors import ConfigError, RunError

MAX_TRIALS = 1000  # trials in one sweep; `--max-trials N` raises it (each is a training run or a scoring)
CONNECT_S = 5.0  # how long a Ray address may take to accept a TCP connection
JOIN_S = 60.0  # how long joining a reachable Ray cluster may take in all
MIN_FSIZE = 2**30  # a file-size limit (ulimit -f) below this stops Ray's start-up (its logs, its object store)
ADDRESS_RE = r"(ray://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})"

_NUM = (int, float)
# The refine knobs a sweep may vary, per method: (type, check, what the check says).
_DRS = {"percentile": (_NUM, lambda v: 0 <= v <= 100, "a number in [0, 100]"),
        "target_rate": (_NUM, lambda v: 0 < v < 1, "a number in (0, 1)"),
        "tau": (_NUM, math.isfinite, "a finite number"), "eps": (_NUM, lambda v: v > 0, "a positive number"),
        "burn_in": (int, lambda v: v >= 1, "an integer ≥ 1")}
_DOT = {"steps": (int, lambda v: v >= 0, "an integer ≥ 0"), "lr": (_NUM, lambda v: v > 0, "a positive number"),
        "optimizer": (str, lambda v: v in ("sgd", "adam"), "sgd or adam"),
        "delta": (_NUM, lambda v: v >= 0, "a number ≥ 0"),
        "k": (_NUM, lambda v: v > 0, "a positive number")}
REFINE = {"drs": _DRS, "drs-sigmoid": _DRS, "dot-latent": _DOT, "dot-target": _DOT}


def count(grid: dict, seeds: list, samples: int) -> int:
    return math.prod(len(v) for v in grid.values()) * len(seeds) * samples


def check_trials(grid: dict, seeds: list, samples: int, max_trials: int = MAX_TRIALS) -> int:
    """The number of trials, checked (no duplicate values, at most `max_trials`) before any
    trial's config is built."""
    for key, vals in [*grid.items(), ("seeds", seeds)]:
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"{key}: give at least one value")
        dup = next((v for i, v in enumerate(vals) if v in vals[:i]), None)
        if dup is not None:
            raise ConfigError(f"{'--seeds' if key == 'seeds' else '--grid ' + key}: {dup!r} is given twice (each "
                              "value makes its trials once)")
    n = count(grid, seeds, samples)
    if n > max_trials:
        raise ConfigError(f"the sweep has {n:,} trials; at most {max_trials:,} (raise it with --max-trials {n})")
    return n


def range_limit(a: int, b: int, max_trials: int = MAX_TRIALS) -> None:
    if b - a + 1 > max_trials:
        raise ConfigError(f"{a}..{b} is {b - a + 1:,} values; at most {max_trials:,} trials (--max-trials)")


def check_refine(method: str | None, grid: dict) -> None:
    """Every refine knob of the grid belongs to `method` and each value has its type and range."""
    if method not in REFINE:
        raise ConfigError(f"--method must be one of {', '.join(REFINE)}, got {method!r}")
    knobs = REFINE[method]
    for key, vals in grid.items():
        if key not in knobs:
            other = next((m for m, k in REFINE.items() if key in k), None)
            raise ConfigError(f"sweep-refine: {key} is not a refine knob of {method}" + (f" (it is one of {other})" if other
                                                                                  else f"; sweep any of {', '.join(knobs)}"))
        want, ok, says = knobs[key]
        for v in vals:
            if not isinstance(v, want) or isinstance(v, bool) or not ok(v):
                raise ConfigError(f"--grid {key}={','.join(map(str, vals))}: {v!r} is not {says}")


# ---------------------------------------------------------------- a stored sweep.json
_SPEC = {"name": str, "kind": str, "grid": dict, "random": dict, "samples": int, "seeds": list, "scheduler": str,
         "metric": str, "cpus_per_trial": int, "fixed": dict}
_OPTIONAL = {"variant": str, "model": str, "method": str, "epochs": int, "max_steps": int, "quick_n": int,
             "score_n": int, "data_limit": int, "n": int}


def check_spec(spec, kinds, metrics) -> dict:
    """A stored spec of the shape every reader relies on; ValueError naming the first bad field."""
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"its spec is {str(spec)[:40]!r}, not a sweep's settings")
    for key, want in [*_SPEC.items(), *_OPTIONAL.items()]:
        val = spec.get(key)
        if (val is None and key in _OPTIONAL) or (isinstance(val, want) and not (want is int and isinstance(val, bool))):
            continue
        raise ValueError(f"spec.{key} is {str(val)[:40]!r}")
    if spec["kind"] not in kinds or spec["metric"] not in metrics:
        raise ValueError(f"spec.kind {spec['kind']!r} or spec.metric {spec['metric']!r} is unknown")
    if not all(isinstance(v, list) and v for v in spec["grid"].values()):
        raise ValueError("spec.grid holds a knob with no list of values")
    if not spec["seeds"] or not all(isinstance(s, int) and not isinstance(s, bool) for s in spec["seeds"]):
        raise ValueError("spec.seeds is not a list of integers")
    if not all(isinstance(r, list) and len(r) == 3 for r in spec["random"].values()):
        raise ValueError("spec.random holds a knob that is not [distribution, low, high]")
    return spec


def check_shipped(rec) -> dict:
    """A shipped sweep.json (trained/sweeps/<name>/): its spec, rows and counts."""
    if not isinstance(rec, dict):
        raise ValueError(f"it holds a {type(rec).__name__}, not an object")
    if not isinstance(rec.get("rows"), list) or not all(isinstance(r, dict) for r in rec["rows"]):
        raise ValueError("rows is not a list of trials")
    for key in ("expected", "trials"):
        if not isinstance(rec.get(key, 0), int):
            raise ValueError(f"{key} is {str(rec.get(key))[:40]!r}")
    if not isinstance(rec.get("counts", {}), dict) or not isinstance(rec.get("status", ""), str):
        raise ValueError("counts or status is of the wrong type")
    return rec


def clean_trial(t, trial_id: str) -> dict:
    """A trial record as the readers use it; one of the wrong shape reads as 'unreadable'."""
    types = {"run_id": str, "params": dict, "quick": list, "scores": dict, "status": str}
    if isinstance(t, dict) and all(t.get(k) is None or isinstance(t[k], want) for k, want in types.items()) \
            and all(isinstance(q, dict) for q in t.get("quick") or []):
        return t
    return {"trial": trial_id, "status": "unreadable", "reason": "its record is not a trial's"}


# ---------------------------------------------------------------- Ray: where and with what
def check_address(address: str | None) -> tuple[str, int] | None:
    """(host, port) of a cluster address to probe, None for 'auto' or none; ConfigError for
    anything that is not auto, HOST:PORT or ray://HOST:PORT."""
    if not address or address == "auto":
        return None
    m = re.fullmatch(ADDRESS_RE, address.strip())
    if not m or not 0 < int(m.group(3)) < 65536:
        raise ConfigError(f"--address {address!r}: give auto, HOST:PORT or ray://HOST:PORT (like 10.0.0.5:6379)")
    return m.group(2).strip("[]"), int(m.group(3))


def reachable(address: str, timeout: float = CONNECT_S, shown: str | None = None) -> None:
    """RunError unless something accepts a TCP connection at the address within `timeout`
    (`shown`: the address as the user gave it)."""
    hp = check_address(address)
    if hp is None:
        return
    try:
        socket.create_connection(hp, timeout=timeout).close()
    except OSError as exc:
        raise RunError(f"could not reach Ray at {shown or address} within {timeout:.0f} s ({exc.strerror or exc}); is the "
                       "cluster running (`ray start --head`) and the port open?") from None


def fsize_limit() -> int | None:
    """The process's file-size limit in bytes (None: unlimited)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def check_limits() -> None:
    """Refuse a file-size limit Ray cannot start under (it would time out after half a minute)."""
    lim = fsize_limit()
    if lim is not None and lim < MIN_FSIZE:
        raise ConfigError(f"the file-size limit (ulimit -f) is {lim / 2**20:.0f} MiB; Ray writes larger files (its "
                          f"logs, its object store): raise it to at least {MIN_FSIZE // 2**30} GiB (`ulimit -f "
                          "unlimited`)")

