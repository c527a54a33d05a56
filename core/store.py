"""The run store: one folder per run under runs/ (or $LATENT_LAB_RUNS).

    runs/<run_id>/config.json      resolved hyper-parameters + the command line
    runs/<run_id>/status.json      status (running|done|failed|cancelled), pid, reason, progress
    runs/<run_id>/metrics.sqlite   long-format metrics (step, epoch, wall, key, value), WAL mode
    runs/<run_id>/checkpoint.pt    last good checkpoint (atomic replace)
    runs/<run_id>/samples/         epoch_XXXX.png grids from the fixed evaluation noise

A training process writes; the app and the CLI read concurrently (SQLite WAL, atomic JSON).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import sqlite3
import tempfile
import time
from pathlib import Path

from .errors import RunError

STATUSES = ("running", "done", "failed", "cancelled")


def runs_dir() -> Path:
    env = os.environ.get("LATENT_LAB_RUNS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "runs"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename: readers see the old file or the new one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    write_bytes_atomic(path, json.dumps(obj, indent=2).encode())


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()  # fields 3.. (the name may hold spaces)
    except OSError:
        return None


def proc_start(pid: int) -> int | None:
    """The process's start time (clock ticks since boot): with the pid, it names one process."""
    st = _proc_stat(pid)
    return int(st[19]) if st else None


def pid_alive(pid: int | None, start: int | None = None) -> bool:
    """Is `pid` running — and, when `start` is given, still the same process (pids get reused)?"""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    st = _proc_stat(pid)
    if st is None:
        return True  # no /proc: trust kill(0)
    if st[0] == "Z":  # a zombie (exited, not yet reaped by its parent) is not running
        return False
    return start is None or int(st[19]) == start


class Run:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.id = self.path.name
        self._db: sqlite3.Connection | None = None

    # ---- creation and lookup -------------------------------------------------------
    @classmethod
    def create(cls, config: dict, argv: list[str] | None = None) -> "Run":
        root = runs_dir()
        root.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run = cls(root / f"{stamp}-{config['variant']}-{secrets.token_hex(2)}")
        (run.path / "samples").mkdir(parents=True)
        write_json_atomic(run.path / "config.json", {"config": config, "argv": argv or []})
        run.set_status("running", created=time.time(), pid=os.getpid())
        return run

    @classmethod
    def open(cls, run_id: str) -> "Run":
        path = runs_dir() / run_id
        if not run_id or "/" in run_id or not (path / "config.json").is_file():
            raise RunError(f"no run {run_id!r} in {runs_dir()} (see `python -m core runs`)")
        return cls(path)

    # ---- files ------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    def config(self) -> dict:
        try:
            return json.loads((self.path / "config.json").read_text())["config"]
        except (OSError, ValueError, KeyError) as exc:
            raise RunError(f"run {self.id} has an unreadable config.json ({exc})") from None

    def update_config(self, config: dict) -> None:
        """Record a changed config (e.g. more epochs on resume), keeping the original argv."""
        meta = json.loads((self.path / "config.json").read_text())
        write_json_atomic(self.path / "config.json", dict(meta, config=config))

    def latest_sample(self) -> Path | None:
        grids = sorted(self.samples_dir.glob("epoch_*.png"))
        return grids[-1] if grids else None

    # ---- status -----------------------------------------------------------------------
    def status(self) -> dict:
        """The status record; a 'running' run whose process is gone reads as 'failed'."""
        try:
            st = json.loads((self.path / "status.json").read_text())
        except (OSError, ValueError):
            return {"status": "failed", "reason": "status.json is missing or unreadable"}
        if st.get("status") == "running" and not pid_alive(st.get("pid"), st.get("pid_start")):
            st = dict(st, status="failed", reason="the training process exited without finishing")
        return st

    def set_status(self, status: str, **fields) -> None:
        if status not in STATUSES:
            raise ValueError(status)
        path = self.path / "status.json"
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
        if "pid" in fields and "pid_start" not in fields:
            fields["pid_start"] = proc_start(fields["pid"]) if fields["pid"] else None
        old.update(fields, status=status, updated=time.time())
        if status == "running":
            old.pop("reason", None)
        write_json_atomic(path, old)

    # ---- metrics ----------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self.path / "metrics.sqlite", timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS metrics "
                             "(step INTEGER, epoch REAL, wall REAL, key TEXT, value REAL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS metrics_key ON metrics(key, step)")
            self._db.commit()
        return self._db

    def log(self, step: int, epoch: float, values: dict[str, float]) -> None:
        now = time.time()
        db = self._conn()
        db.executemany("INSERT INTO metrics VALUES (?,?,?,?,?)",
                       [(step, epoch, now, k, float(v)) for k, v in values.items()])
        db.commit()

    def truncate_metrics(self, after_step: int) -> None:
        """On resume: drop rows logged after the checkpoint we continue from."""
        db = self._conn()
        db.execute("DELETE FROM metrics WHERE step > ?", (after_step,))
        db.commit()

    def metrics(self, keys: list[str] | None = None) -> list[tuple]:
        """Rows (step, epoch, wall, key, value), readable while a trainer writes."""
        path = self.path / "metrics.sqlite"
        if not path.is_file():
            return []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            q = "SELECT step, epoch, wall, key, value FROM metrics"
            if keys:
                q += f" WHERE key IN ({','.join('?' * len(keys))})"
            return db.execute(q + " ORDER BY step", keys or []).fetchall()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def summary(self) -> dict:
        cfg, st = self.config(), self.status()
        return {"run_id": self.id, "variant": cfg.get("variant"), "status": st.get("status"),
                "epoch": st.get("epoch", 0), "epochs": cfg.get("epochs"), "step": st.get("step", 0),
                "device": st.get("device"), "seconds": st.get("train_seconds"), "reason": st.get("reason"),
                "created": st.get("created")}


def list_runs() -> list[Run]:
    root = runs_dir()
    if not root.is_dir():
        return []
    return [Run(p) for p in sorted(root.iterdir()) if (p / "config.json").is_file()]


def cancel(run_id: str, wait: float = 30.0) -> str:
    """Stop a run's process (SIGTERM: it checkpoints and marks itself cancelled), then make
    sure the run is marked. Returns the final status."""
    run = Run.open(run_id)
    st = run.status()
    if st["status"] != "running":
        return st["status"]
    pid, start = st.get("pid"), st.get("pid_start")
    try:
        os.kill(pid, signal.SIGTERM)  # status() said running: pid and start time match
    except ProcessLookupError:
        pass
    deadline = time.time() + wait
    while pid_alive(pid, start) and time.time() < deadline:
        time.sleep(0.1)
    if pid_alive(pid, start):
        os.kill(pid, signal.SIGKILL)
    if run.status()["status"] in ("running", "failed"):
        run.set_status("cancelled", reason="cancelled by user")
    return run.status()["status"]
