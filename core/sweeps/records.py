"""A sweep's records on disk, read and written by its driver, its trials and its readers:

    runs/.sweeps/<name>/sweep.json        the spec, its status, the driver's pid, times
    runs/.sweeps/<name>/trials/<id>.json  each trial: its knobs, status, quick scores, final scores
    runs/.sweeps/<name>/ray/              Ray Tune's experiment storage (restored after a kill)
    runs/.sweeps/<name>/cancel            present: cancel requested (trials checkpoint and stop)
    runs/<run id>/                        a training trial: an ordinary run tagged with its sweep
"""
from __future__ import annotations

import json
import os

from core.errors import LabError, RunError
from core.eval.names import METRICS
from core.store.files import write_json_atomic
from core.store.runs import Run, pid_alive
from core.sweeps.check import check_spec, clean_trial
from core.sweeps.spec import KINDS, n_trials, sweep_dir, sweeps_dir

INTERRUPTED = "the training process exited without finishing"  # what Run.status says of a dead writer
ENDED = ("done", "failed", "stopped", "cancelled")  # a trial in one of these will not change again


def read_spec(name: str) -> dict:
    path = sweep_dir(name) / "sweep.json"
    try:
        rec = json.loads(path.read_text())
        if not isinstance(rec, dict):
            raise ValueError(f"it holds a {type(rec).__name__}, not an object")
        check_spec(rec.get("spec"), KINDS, METRICS)
        return rec
    except FileNotFoundError:
        raise RunError(f"no sweep {name!r} (see `python -m core sweep list`)") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"sweep {name}: unreadable sweep.json ({exc})") from None


def write_record(name: str, **fields) -> dict:
    path = sweep_dir(name) / "sweep.json"
    rec = {**(json.loads(path.read_text()) if path.is_file() else {}), **fields}
    write_json_atomic(path, rec)
    return rec


def trial_records(name: str) -> list[dict]:
    """Every trial of a sweep, with its run's live status (a training trial), oldest first."""
    out = []
    for p in sorted((sweep_dir(name) / "trials").glob("*.json")):
        try:
            t = clean_trial(json.loads(p.read_text()), p.stem)
        except (OSError, ValueError) as exc:  # written atomically: a bad one stays bad, and is listed as such
            t = {"trial": p.stem, "status": "unreadable", "reason": f"{p.name}: {str(exc)[:80]}"}
        if t.get("run_id"):
            try:
                st = Run.open(t["run_id"]).status()
                t["progress"] = (st.get("step") or 0) / max(1, st.get("total_steps") or 1)
                if t.get("status") == "running" and st.get("status") != "running":
                    # a process killed mid-training (its driver killed): the same sweep resumes it
                    t["status"] = "interrupted" if st.get("reason") == INTERRUPTED else st["status"]
            except (RunError, OSError, ValueError):
                t["status"] = "unreadable"
        out.append(t)
    return sorted(out, key=lambda t: t.get("started") or 0)


def load_trial(name: str, trial_id: str) -> dict:
    path = sweep_dir(name) / "trials" / f"{trial_id}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_trial(name: str, trial_id: str, **fields) -> dict:
    path = sweep_dir(name) / "trials" / f"{trial_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {**load_trial(name, trial_id), **fields, "trial": trial_id}
    write_json_atomic(path, rec)
    return rec


def status(name: str, trials: list[dict] | None = None) -> dict:
    """The sweep's record with its trial counts by status and its driver's liveness (`trials`:
    its trial_records, when the caller has read them)."""
    rec = read_spec(name)
    trials = trial_records(name) if trials is None else trials
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.get("status", "?")] = counts.get(t.get("status", "?"), 0) + 1
    state = rec.get("status", "?")
    if state == "running" and not pid_alive(rec.get("pid"), rec.get("pid_start")):
        state = "interrupted"  # the driver died: the same command resumes it
    return {**rec, "name": name, "status": state, "trials": len(trials), "expected": n_trials(rec["spec"]),
            "counts": counts}


def list_sweeps() -> list[dict]:
    root = sweeps_dir()
    out = []
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        if (p / "sweep.json").is_file():
            try:
                out.append(status(p.name))
            except (LabError, OSError, ValueError) as exc:
                out.append({"name": p.name, "status": "unreadable", "reason": str(exc)})
    return out


def is_cancelled(name: str) -> bool:
    return (sweep_dir(name) / "cancel").is_file()


def driver_gone(name: str) -> bool:
    """Has this sweep's driver died (kill -9)? Known only on the driver's own machine; elsewhere
    Ray ends the orphaned trial itself."""
    try:
        rec = read_spec(name)
    except LabError:
        return False
    return (rec.get("status") == "running" and rec.get("host") == os.uname().nodename
            and not pid_alive(rec.get("pid"), rec.get("pid_start")))
