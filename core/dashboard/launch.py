"""Training in the background, for the dashboard: each run is a detached `python -m core
train` process (it survives a page reload or the server stopping), and state lives only in the
run store. One training per device at a time: a second launch is refused with a clear reason.
The rule holds under concurrency (two tabs launching at the same moment): each launched process
holds the device's lock (`train --exclusive-device`) for as long as it trains, and a process
that cannot take it exits before it creates a run, with the holder in its one-line error.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.errors import ConfigError, RunError
from core.gan.variants import make_config
from core.store.files import runs_dir
from core.store.runs import Run, list_runs

ROOT = Path(__file__).resolve().parents[2]
_RUN_ID = re.compile(r"^\d{8}-\d{6}-[\w.-]+$")


def _device_of(run: Run) -> str | None:
    dev = run.status().get("device")  # set once the trainer has started
    return str(dev).split(":")[0] if dev else None


def active_runs(device: str | None = None) -> list[Run]:
    """Runs whose training process is alive (on `device`, 'cpu' or 'cuda', if given)."""
    out = []
    for run in list_runs():
        try:
            run.config()  # a run whose config.json is unreadable is skipped like a bad status
            if run.status().get("status") == "running" and device in (None, _device_of(run) or device):
                out.append(run)
        except (RunError, OSError, ValueError):
            continue  # a corrupt run is skipped here; the run list reports it
    return out


def _resolved(device: str) -> str:
    if device == "auto":
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device.split(":")[0]


def _detached(args: list[str], log: Path) -> subprocess.Popen:
    """`python -m core ARGS` in its own session (it outlives the page and the server), output in `log`.
    A thread waits for it, so when it ends while the server lives it is reaped, not left a zombie."""
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc


def _spawn(args: list[str], device: str, timeout: float) -> str:
    busy = active_runs(_resolved(device))  # the quick refusal; the device lock is the rule
    if busy:
        r = busy[0]
        raise RunError(f"run {r.id} ({r.config().get('variant')}) is already training on {_resolved(device)}; "
                       f"cancel it or wait for it to finish (one training per device)")
    logs = runs_dir() / ".logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}.log"
    proc = _detached(["train", *args, "--device", device, "--quiet", "--exclusive-device"], log)
    # warnings may come before the run id (stderr is merged)
    return _started(proc, log, lambda: next((ln.strip() for ln in log.read_text().splitlines()
                                             if _RUN_ID.match(ln.strip())), None), "training", timeout)


def _started(proc: subprocess.Popen, log: Path, ready, what: str, timeout: float) -> str:
    """ready()'s answer once it has one; RunError with the process's last line if it exits first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if found := ready():
            return found
        if proc.poll() is not None:
            last = (log.read_text().strip().splitlines() or ["no output"])[-1]
            raise RunError(f"{what} did not start: {last.removeprefix('error: ')}")
        time.sleep(0.1)
    proc.terminate()
    raise RunError(f"{what} did not start within {timeout:.0f} s (log: {log})")


def start(variant: str, overrides: dict | None = None, device: str = "auto", timeout: float = 120.0,
          extra: list[str] | None = None) -> str:
    """Launch a new run in the background; returns its id once the process has created it.
    The config is validated here first, so bad values fail fast with the engine's message."""
    cfg = make_config(variant, overrides)  # raises ConfigError on bad keys/values
    args = ["--variant", variant]
    for k, v in (overrides or {}).items():
        if k != "variant":
            args += ["--set", f"{k}={v}"]
    if cfg["epochs"] <= 0:
        raise ConfigError("epochs must be positive")
    return _spawn(args + list(extra or []), device, timeout)


def resume(run_id: str, epochs: int | None = None, device: str = "auto", timeout: float = 120.0,
           changes: dict | None = None) -> str:
    """Continue a run from its last checkpoint in the background; `changes` fine-tunes it
    (`train --resume RUN --set k=v`: only core.train.resume.FINE_TUNE keys, checked by the trainer)."""
    sets = [a for k, v in (changes or {}).items() for a in ("--set", f"{k}={v}")]
    return _again("--resume", run_id, epochs, device, timeout, sets)


def restart(run_id: str, device: str = "auto", timeout: float = 120.0) -> str:
    """Train a run that stopped before its first checkpoint again from scratch, in the background."""
    return _again("--restart", run_id, None, device, timeout)


def _again(flag: str, run_id: str, epochs: int | None, device: str, timeout: float,
           extra: list[str] | None = None) -> str:
    run = Run.open(run_id)
    if run.status().get("status") == "running":
        raise RunError(f"run {run_id} is still training")
    return _spawn([flag, run_id] + (["--epochs", str(epochs)] if epochs else []) + list(extra or []), device, timeout)


def start_sweep(variant: str, grid: dict, seeds: list[int], epochs: int, scheduler: str = "none",
                name: str | None = None, fixed: dict | None = None, timeout: float = 60.0,
                max_steps: int = 0, data_limit: int = 0) -> str:
    """Launch `python -m core sweep` in the background (it outlives the page); returns the
    sweep's name once its driver has recorded it. The spec is checked here first. `max_steps`
    (each trial's step limit) and `data_limit` (the first N digits) make small sweeps; 0 = none."""
    from core.sweeps import spec as sweep_spec
    spec = sweep_spec.make_spec("train", variant=variant, grid=grid, seeds=seeds, epochs=epochs, scheduler=scheduler,
                                fixed=fixed, name=name, max_steps=max_steps or None, data_limit=data_limit)
    args = [variant, "--name", spec["name"], "--epochs", str(epochs),
            "--scheduler", scheduler, "--seeds", ",".join(map(str, seeds))]
    args += (["--max-steps", str(max_steps)] if max_steps else []) + (["--data-limit", str(data_limit)] if data_limit else [])
    args += [a for k, vs in grid.items() for a in ("--grid", f"{k}={','.join(map(str, vs))}")]
    args += [a for k, v in (fixed or {}).items() for a in ("--set", f"{k}={v}")]
    logs = runs_dir() / ".logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"sweep-{spec['name']}.log"
    proc = _detached(["sweep", *args], log)
    record = sweep_spec.sweep_dir(spec["name"]) / "sweep.json"
    return _started(proc, log, lambda: spec["name"] if record.is_file() else None, "the sweep", timeout)
