"""File plumbing every store shares: where things live on disk (trained/, imported/, runs/),
atomic writes, a user's file checked before it is read, and the flocks that name their holder.

A writer replaces a file atomically (temp file in the same folder, fsync, rename): readers see
the old file or the new one. A lock is an exclusive `flock` on a small file that records who
holds it; the OS releases it when its holder ends, however it ends.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAINED = ROOT / "trained"  # shipped weights: the classifier and the zoo


def runs_dir() -> Path:
    env = os.environ.get("LATENT_LAB_RUNS")
    return Path(env) if env else ROOT / "runs"


@contextlib.contextmanager
def scratch_runs(prefix: str = "latent-lab-scratch-"):
    """A temporary run store ($LATENT_LAB_RUNS) for the block, removed after it; the old one restored."""
    old = os.environ.get("LATENT_LAB_RUNS")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["LATENT_LAB_RUNS"] = tmp
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("LATENT_LAB_RUNS", None)
            else:
                os.environ["LATENT_LAB_RUNS"] = old


def imported_dir() -> Path:
    """Models the user brought (`python -m core import`): imported/<name>/ or $LATENT_LAB_IMPORTED."""
    env = os.environ.get("LATENT_LAB_IMPORTED")
    return Path(env) if env else ROOT / "imported"


def check_user_file(path: Path, limit: int, kind: str, what: str = "") -> None:
    """A file the user gave: it exists, is not empty and has at most `limit` bytes; else a
    ConfigError naming it (`what` prefixes the message, `kind` names such files)."""
    from core.errors import ConfigError
    if not path.is_file():
        raise ConfigError(f"{what}no file at {path}")
    size = path.stat().st_size
    if size == 0:
        raise ConfigError(f"{what}{path.name} is empty")
    if size > limit:
        raise ConfigError(f"{what}{path.name} is {size / 2**20:.0f} MiB; {kind} are limited to {limit // 2**20} MiB")


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
    write_bytes_atomic(path, json.dumps(obj, indent=1).encode())


def try_lock(path: Path, wait: float = 0.0):
    """An open file holding an exclusive flock on `path`, trying for up to `wait` seconds; None
    if another open file holds it (another process, or another thread of this one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if time.monotonic() >= deadline:
                f.close()
                return None
            time.sleep(0.02)


def write_holder(f, text: str) -> None:
    """Record who holds the lock `f` (a line a refused second holder shows)."""
    f.seek(0)
    f.truncate()
    f.write(text)
    f.flush()


def read_holder(path: Path) -> str:
    """Who holds the lock file at `path`, as its holder wrote it; "" if unknown."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def code_version() -> str:
    """The commit of the code that computes a result ('<sha>-dirty' with uncommitted changes to
    tracked files; 'unknown' outside a git clone): recorded beside derived results."""
    import subprocess
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("-dirty" if dirty else "")) if sha else "unknown"
