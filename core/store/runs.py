"""The run store: one folder per run under runs/ (or $LATENT_LAB_RUNS; core/store/files.py
says where things live and writes them atomically).

    runs/<run_id>/config.json      resolved hyper-parameters + the command line
    runs/<run_id>/status.json      status (running|done|failed|cancelled), pid, reason, progress
    runs/<run_id>/metrics.sqlite   long-format metrics (step, epoch, wall, key, value), WAL mode
    runs/<run_id>/checkpoint.pt    last good checkpoint (atomic replace)
    runs/<run_id>/samples/         epoch_XXXX.png grids from the fixed evaluation noise
    runs/<run_id>/train.lock       held (flock) by the one process that trains the run
    runs/.locks/<device>.lock      held by the dashboard's training on that device

A training process writes; the app and the CLI read concurrently (SQLite WAL, atomic JSON).
Exactly one process writes a run: it holds an exclusive `flock` on the run's lock file, which
the OS releases when that process ends, however it ends.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import sqlite3
import time
from pathlib import Path

from core.errors import RunError
from core.store.files import read_holder, runs_dir, try_lock, write_holder, write_json_atomic

STATUSES = ("running", "done", "failed", "cancelled")
LOCK_NAME = "train.lock"
STALE_TMP_S = 60  # a small temp file untouched this long belongs to a dead writer
_NUM = (int, float)
# The fields a status record may hold, with their types (bool is refused where int is wanted).
_STATUS_FIELDS = {"status": str, "pid": int, "pid_start": int, "step": int, "epoch": int, "total_steps": int,
                  "train_seconds": _NUM, "created": _NUM, "updated": _NUM, "device": str, "reason": str,
                  "ckpt_step": int, "ckpt_time": _NUM, "wall_seconds": _NUM}


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


PID_MAX = 2 ** 22  # the largest pid Linux hands out (/proc/sys/kernel/pid_max can be at most this)
INT_MAX = 2 ** 53  # a status or config count beyond this is not a count


def _is_pid(pid) -> bool:
    return isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid <= PID_MAX


def pid_alive(pid: int | None, start: int | None = None) -> bool:
    """Is `pid` running — and, when `start` is given, still the same process (pids get reused)?
    Anything but a positive int is no process (kill(-1) or kill(0) would reach many)."""
    if not _is_pid(pid):
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


_DEVICE_LOCKS: dict[str, object] = {}  # held for the life of this process


def claim_device(device: str, run_id: str | None = None) -> None:
    """Hold the dashboard's one-training-per-device lock for `device` ('cpu' or 'cuda') until this
    process ends; RunError naming the holder if another process has it."""
    if device in _DEVICE_LOCKS:
        if run_id:
            write_holder(_DEVICE_LOCKS[device], f"run {run_id} (pid {os.getpid()})")
        return
    path = runs_dir() / ".locks" / f"{device}.lock"
    f = try_lock(path)
    if f is None:
        raise RunError(f"{read_holder(path) or 'another training'} is already training on {device}; "
                       f"cancel it or wait for it to finish (one training per device)")
    write_holder(f, f"run {run_id} (pid {os.getpid()})" if run_id else f"pid {os.getpid()}")
    _DEVICE_LOCKS[device] = f


def _check_fields(record: dict, fields: dict) -> None:
    """ValueError naming the first field whose value is not of its type (None = absent)."""
    for key, want in fields.items():
        val = record.get(key)
        if val is not None and (not isinstance(val, want) or isinstance(val, bool)
                                or isinstance(val, int) and not -INT_MAX <= val <= INT_MAX):
            raise ValueError(f"{key} is {str(val)[:40]!r}")


class Run:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.id = self.path.name
        self._db: sqlite3.Connection | None = None
        self._lock = None  # the open lock file while this object is the run's writer

    # ---- creation and lookup -------------------------------------------------------
    @classmethod
    def create(cls, config: dict, argv: list[str] | None = None, tags: dict | None = None) -> Run:
        """A new run folder, held by this process. `tags` (e.g. {"sweep": …, "trial": …}) are
        recorded in config.json beside the config."""
        root = runs_dir()
        root.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run = cls(root / f"{stamp}-{config['variant']}-{secrets.token_hex(2)}")
        (run.path / "samples").mkdir(parents=True)
        run.acquire()  # the creating process is the run's writer
        write_json_atomic(run.path / "config.json", {"config": config, "argv": argv or [], **(tags or {})})
        run.set_status("running", created=time.time(), pid=os.getpid())
        return run

    @classmethod
    def open(cls, run_id: str) -> Run:
        """An existing run; temp files that a dead writer left behind are removed."""
        path = runs_dir() / run_id
        if not run_id or "/" in run_id or not (path / "config.json").is_file():
            raise RunError(f"no run {run_id!r} in {runs_dir()} (see `python -m core runs`)")
        run = cls(path)
        run.clean_stale_temp()
        return run

    # ---- the one writer ---------------------------------------------------------------
    def acquire(self, wait: float = 1.0) -> None:
        """Become the run's one writer: an exclusive flock on runs/<id>/train.lock, held until
        close() or the end of the process (the OS releases it even after kill -9). A second
        writer gets RunError naming the process that trains the run. `wait` covers a reader
        that holds the lock for a moment while it cleans up temp files."""
        if self._lock is not None:
            return
        f = try_lock(self.path / LOCK_NAME, wait)
        if f is None:
            pid = read_holder(self.path / LOCK_NAME) or "?"
            raise RunError(f"run {self.id} is being trained by pid {pid}; cancel it (`python -m core cancel "
                           f"{self.id}`) or wait for it to finish")
        write_holder(f, str(os.getpid()))
        self._lock = f

    def clean_stale_temp(self) -> list[str]:
        """Remove temp files of dead writers (a kill during a save leaves `checkpoint.pt*.tmp`,
        up to tens of MB). Only when no other process trains the run: checkpoint and grid temps
        are written by the trainer alone; other small temps must also be a minute old."""
        temps = [*self.path.glob("*.tmp"), *self.samples_dir.glob("*.tmp")]
        if not temps:
            return []
        probe = None
        if self._lock is None:
            try:
                probe = try_lock(self.path / LOCK_NAME)
            except OSError:
                return []
            if probe is None:
                return []  # a live writer: its temp files are in use
        removed = []
        try:
            for t in temps:
                try:
                    trainer_only = t.name.startswith("checkpoint.pt") or t.parent == self.samples_dir
                    if trainer_only or time.time() - t.stat().st_mtime > STALE_TMP_S:
                        t.unlink()
                        removed.append(t.name)
                except OSError:
                    pass
        finally:
            if probe is not None:
                probe.close()
        return removed

    # ---- files ------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    def _meta(self) -> dict:
        """config.json, checked for the shape every reader relies on."""
        try:
            meta = json.loads((self.path / "config.json").read_text())
            if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
                raise ValueError("it holds no config object")
            cfg = meta["config"]
            if not isinstance(cfg.get("variant"), str):
                raise ValueError(f"variant is {cfg.get('variant')!r}")
            _check_fields(cfg, {"epochs": int, "batch_size": int})
            return meta
        except (OSError, ValueError) as exc:
            raise RunError(f"run {self.id} has an unreadable config.json ({exc})") from None

    def config(self) -> dict:
        return self._meta()["config"]

    def argv(self) -> list[str]:
        """The command-line arguments the run was started with (after `python -m core`)."""
        argv = self._meta().get("argv")
        return [str(a) for a in argv] if isinstance(argv, list) else []

    def tags(self) -> dict:
        """What config.json records besides the config, the argv and the history (e.g. the sweep)."""
        return {k: v for k, v in self._meta().items() if k not in ("config", "argv", "history")}

    def update_config(self, config: dict) -> None:
        """Record a changed config (e.g. more epochs on resume), keeping the original argv."""
        write_json_atomic(self.path / "config.json", dict(self._meta(), config=config))

    def log_weight_hist(self, row: dict) -> None:
        """One epoch's histograms of the critic's weights before clipping (a line of JSON)."""
        with open(self.path / "weight_hist.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def weight_hists(self) -> list[dict]:
        """The recorded histograms, one per epoch (the last written wins: a resumed epoch is
        written again), oldest first; unreadable lines are skipped."""
        path, rows = self.path / "weight_hist.jsonl", {}
        if not path.is_file():
            return []
        for line in path.read_text(errors="replace").splitlines():
            try:
                row = json.loads(line)
                rows[int(row["epoch"])] = row
            except (ValueError, KeyError, TypeError):
                continue
        return [rows[e] for e in sorted(rows)]

    def history(self) -> list[dict]:
        """Changes made on resume (fine-tuning), oldest first: {step, epoch, changes, time}."""
        hist = self._meta().get("history")
        return [h for h in hist if isinstance(h, dict)] if isinstance(hist, list) else []

    def record_change(self, entry: dict) -> None:
        meta = self._meta()
        write_json_atomic(self.path / "config.json",
                          dict(meta, history=[*self.history(), {**entry, "time": round(time.time(), 1)}]))

    def latest_sample(self) -> Path | None:
        grids = sorted(self.samples_dir.glob("epoch_*.png"))
        return grids[-1] if grids else None

    # ---- status -----------------------------------------------------------------------
    def status(self) -> dict:
        """The status record; a 'running' run whose process is gone reads as 'failed'. A record
        of the wrong shape (not an object, an unknown status, a pid that is not a process id)
        raises RunError: the run is unreadable, never guessed at."""
        try:
            st = json.loads((self.path / "status.json").read_text())
        except FileNotFoundError:
            return {"status": "failed", "reason": "status.json is missing"}
        except (OSError, ValueError) as exc:
            raise RunError(f"run {self.id} has an unreadable status.json ({exc})") from None
        try:
            if not isinstance(st, dict):
                raise ValueError(f"it holds a {type(st).__name__}, not an object")
            _check_fields(st, _STATUS_FIELDS)
            if st.get("status") not in STATUSES:
                raise ValueError(f"status is {st.get('status')!r}")
            if st.get("pid") is not None and not _is_pid(st["pid"]):
                raise ValueError(f"pid is {st['pid']!r}")
        except ValueError as exc:
            raise RunError(f"run {self.id} has an unreadable status.json ({exc})") from None
        if st["status"] == "running" and not pid_alive(st.get("pid"), st.get("pid_start")):
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
        if not isinstance(old, dict):
            old = {}
        if "pid" in fields and "pid_start" not in fields:
            fields["pid_start"] = proc_start(fields["pid"]) if fields["pid"] else None
        old.update(fields, status=status, updated=time.time())
        if status == "running":
            old.pop("reason", None)
        elif "phase" not in fields:
            old.pop("phase", None)  # what a running trainer was doing: gone once it has ended
        write_json_atomic(path, old)

    # ---- metrics ----------------------------------------------------------------------
    def _metrics_error(self, exc: sqlite3.Error) -> RunError:
        db = self.path / "metrics.sqlite"
        if "not a database" in str(exc) or "malformed" in str(exc):
            return RunError(f"run {self.id}: {db} is corrupt ({exc}); its curves cannot be read or extended. "
                            f"Move it aside (mv {db} {db}.bad) to go on without the old curves")
        return RunError(f"run {self.id}: {db} cannot be used ({exc})")

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path / "metrics.sqlite", timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS metrics "
                           "(step INTEGER, epoch REAL, wall REAL, key TEXT, value REAL)")
                db.execute("CREATE INDEX IF NOT EXISTS metrics_key ON metrics(key, step)")
                db.commit()
            except sqlite3.Error as exc:
                db.close()
                raise self._metrics_error(exc) from None
            self._db = db
        return self._db

    def _write(self, sql: str, rows) -> None:
        db = self._conn()
        try:
            db.executemany(sql, rows)
            db.commit()
        except sqlite3.Error as exc:
            raise self._metrics_error(exc) from None

    def log(self, step: int, epoch: float, values: dict[str, float]) -> None:
        now = time.time()
        self._write("INSERT INTO metrics VALUES (?,?,?,?,?)", [(step, epoch, now, k, float(v)) for k, v in values.items()])

    def check_metrics(self) -> None:
        """RunError if the metrics database is corrupt (before a resume changes anything)."""
        if not (self.path / "metrics.sqlite").is_file():
            return
        try:
            ok = self._conn().execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.Error as exc:
            raise self._metrics_error(exc) from None
        if ok != "ok":
            raise self._metrics_error(sqlite3.DatabaseError(f"database disk image is malformed: {ok}"))

    def truncate_metrics(self, after_step: int) -> None:
        """On resume: drop rows logged after the checkpoint we continue from."""
        self._write("DELETE FROM metrics WHERE step > ?", [(after_step,)])

    def metrics(self, keys: list[str] | None = None) -> list[tuple]:
        """Rows (step, epoch, wall, key, value), readable while a trainer writes."""
        path = self.path / "metrics.sqlite"
        if not path.is_file():
            return []
        q = "SELECT step, epoch, wall, key, value FROM metrics"
        if keys:
            q += f" WHERE key IN ({','.join('?' * len(keys))})"
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
                if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'metrics'").fetchone():
                    return []  # the writer has created the file but not yet its table
                return db.execute(q + " ORDER BY step", keys or []).fetchall()
        except sqlite3.Error as exc:
            raise self._metrics_error(exc) from None

    def close(self) -> None:
        """Close the metrics database and give up the writer's lock."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

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
    if not _is_pid(pid):  # status() refuses such records; never signal a process group
        raise RunError(f"run {run_id} has no valid pid to stop")
    probe = try_lock(run.path / LOCK_NAME)
    if probe is not None:  # no process trains the run: pid {pid} is someone else's, never signal it
        try:
            run.set_status("failed", reason=f"no process was training it (pid {pid} does not hold {LOCK_NAME})")
        finally:
            probe.close()
        return "failed"
    try:
        os.kill(pid, signal.SIGTERM)  # the lock is held and status() said running: pid and start time match
    except ProcessLookupError:
        pass
    except PermissionError:
        raise RunError(f"run {run_id} is trained by pid {pid}, which this user may not stop") from None
    deadline = time.time() + wait
    while pid_alive(pid, start) and time.time() < deadline:
        time.sleep(0.1)
    if pid_alive(pid, start):
        os.kill(pid, signal.SIGKILL)
    writer = try_lock(run.path / LOCK_NAME, wait=5.0)  # after the trainer: a resume started since keeps its status
    if writer is None:
        return run.status()["status"]
    try:
        if run.status()["status"] in ("running", "failed"):
            run.set_status("cancelled", reason="cancelled by user")
    finally:
        writer.close()
    return run.status()["status"]
