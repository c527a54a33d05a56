"""A sweep's results as the CLI and the Sweeps page read them: one row per trial, this
machine's sweeps and the shipped ones (trained/sweeps/<name>/), a sweep with its trials' rows
and sample grids, a finished sweep shipped, and a metric's curve against one knob.
"""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

from core.errors import RunError
from core.eval.names import METRICS
from core.store.files import write_json_atomic
from core.store.runs import Run
from core.sweeps.check import check_spec
from core.sweeps.records import list_sweeps, status, trial_records
from core.sweeps.spec import KINDS, NAME_RE, fingerprint_of, sweep_dir


def table(name: str, records: list[dict] | None = None) -> list[dict]:
    """One flat row per trial: knobs, status, final scores (quick ones while it trains)."""
    rows = []
    for t in trial_records(name) if records is None else records:
        s = t.get("scores") or (t.get("quick") or [{}])[-1]
        rows.append({"trial": t.get("trial"), **{k: v for k, v in (t.get("params") or {}).items()},
                     "status": t.get("status"), "run_id": t.get("run_id"),
                     "epoch": (t.get("quick") or [{}])[-1].get("epoch"), "progress": t.get("progress"),
                     **{k: s.get(k) for k in METRICS}, "scored_n": (t.get("scores") or {}).get("n") or t.get("quick_n"),
                     "wall_s": t.get("wall_seconds"), "reason": t.get("reason")})
    return rows


def shipped_dir() -> Path:
    from core.store.files import TRAINED
    return TRAINED / "sweeps"


def names() -> list[str]:
    """Every sweep to show: this machine's, then the shipped ones it does not have."""
    return [s["name"] for s in listing()]


def _shipped_names() -> list[str]:
    root = shipped_dir()
    return sorted(p.name for p in root.iterdir() if (p / "sweep.json").is_file()) if root.is_dir() else []


def read_shipped(name: str) -> dict:
    """trained/sweeps/<name>/sweep.json, checked; RunError naming it when it is unreadable."""
    from core.sweeps.check import check_shipped
    path = shipped_dir() / name / "sweep.json"
    if not re.fullmatch(NAME_RE, name or "") or not path.is_file():
        raise RunError(f"no sweep {name!r} here or shipped (see `python -m core sweep list`)")
    try:
        rec = check_shipped(json.loads(path.read_text()))
        check_spec(rec.get("spec"), KINDS, METRICS)
    except (OSError, ValueError) as exc:
        raise RunError(f"shipped sweep {name}: unreadable sweep.json ({exc})") from None
    return rec


def listing() -> list[dict]:
    """This machine's sweeps (`list_sweeps`), then the shipped ones it does not have (source
    'shipped'): what the Sweeps page and `sweep list` show. An unreadable one is a row saying so."""
    live = [{**r, "source": "live"} for r in list_sweeps()]
    have = {r["name"] for r in live}
    for n in _shipped_names():
        if n in have:
            continue
        try:
            rec = read_shipped(n)
            live.append({**{k: rec.get(k) for k in ("status", "trials", "expected", "counts")}, "name": n,
                         "source": "shipped"})
        except RunError as exc:
            live.append({"name": n, "status": "unreadable", "reason": str(exc), "source": "shipped"})
    return live


def sweep_with_trials(name: str) -> dict:
    """A sweep as the page shows it: spec, status, rows, each trial's sample grid, the baseline
    (refit / refine sweeps) and its note; from this machine's run store, else from trained/sweeps/."""
    if (sweep_dir(name) / "sweep.json").is_file():
        records = trial_records(name)  # read once: each reads every trial's run status
        st = status(name, records)
        grids = {}
        for t in records:
            try:
                g = Run.open(t["run_id"]).latest_sample() if t.get("run_id") else None
            except RunError:
                g = None
            if g:
                grids[t["trial"]] = str(g)
        return {**st, "source": "live", "rows": table(name, records), "grids": grids}
    rec = read_shipped(name)
    grids = {p.stem: str(p) for p in sorted((shipped_dir() / name / "grids").glob("*.png"))}
    return {**rec, "source": "shipped", "grids": grids}


def export(name: str, note: str = "") -> Path:
    """Ship a finished sweep: trained/sweeps/<name>/sweep.json (spec, scores, no weights) and
    each trial's last sample grid."""
    import shutil
    st = status(name)
    if st["status"] not in ("done", "cancelled"):
        raise RunError(f"sweep {name} is {st['status']}: only a finished sweep is shipped")
    out = shipped_dir() / name
    (out / "grids").mkdir(parents=True, exist_ok=True)
    v = sweep_with_trials(name)
    for trial_id, grid in v["grids"].items():
        shutil.copyfile(grid, out / "grids" / f"{trial_id}.png")
    keep = ("name", "spec", "status", "counts", "trials", "expected", "baseline", "ray_start_seconds",
            "fit_seconds", "started", "ended")
    fp = st.get("fingerprint") or fingerprint_of(st["spec"])  # a sweep started before fingerprints: its model now
    write_json_atomic(out / "sweep.json", {**{k: st.get(k) for k in keep}, "rows": v["rows"], "note": note,
                                           "fingerprint": fp, "exported": time.time()})
    return out


def knob_curve(rows: list[dict], knob: str, metric: str) -> list[dict]:
    """The metric against one knob, with its spread over the other knobs and the seeds: per
    value its mean, min, max and count (finished trials only) — the shape of seed 004's Fig. 2."""
    by: dict = {}
    for r in rows:
        v = r.get(metric)
        if r.get("status") == "done" and isinstance(v, (int, float)) and math.isfinite(v) and knob in r:
            by.setdefault(r[knob], []).append(v)
    return [{"value": k, "mean": sum(vs) / len(vs), "min": min(vs), "max": max(vs), "n": len(vs)}
            for k, vs in sorted(by.items(), key=lambda kv: kv[0])]
