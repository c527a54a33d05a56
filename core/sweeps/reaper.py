"""When a sweep's driver dies without shutting its Ray down (`kill -9`, an OOM kill), Ray's own
processes outlive it: the GCS, the raylet, and the dashboard and runtime-env agents the raylet
started, which the OS hands to init once their parent is gone. The driver starts this watcher
(its own process, its own session, no torch) beside a Ray it started on this machine. Every
second it notes the processes of that Ray session (their command line names the session; the
agents and workers are found as descendants of those); once the driver is gone it lets running
trials checkpoint and exit on their own (up to TRIAL_GRACE_S: they watch their driver too), then
stops the rest — SIGTERM, then SIGKILL after GRACE_S — and exits. So no Ray process outlives its
driver by more than POLL_S + GRACE_S seconds when no trial runs, TRIAL_GRACE_S more when one does
(tests/test_hardening_inputs.py measures the first).

    python -m core.sweeps.reaper DRIVER_PID DRIVER_START SESSION_NAME
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 1.0
GRACE_S = 5.0
# An orphaned trial checkpoints at its next log row and exits by itself (core.sweeps.trial's watchdog,
# ORPHAN_GRACE_S = 30 s): its worker is given that long before the rest of the session is stopped.
TRIAL_GRACE_S = 35.0
_SERVICES = ("ray::IDLE", "ray::DashboardAgent", "ray::RuntimeEnvAgent")  # not trials


def _start(pid: int) -> int | None:
    """The process's start time in clock ticks (tells a pid from a reused one), None if gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process now."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        out[int(d.name)] = (ppid, cmd)
    return out


def session_processes(session: str, exclude: int | None = None) -> dict[int, int]:
    """{pid: start} of the processes of Ray session `session`: those whose command line names it
    and all their descendants (workers and agents rename themselves to `ray::…`)."""
    table = _table()
    found = {pid for pid, (_, cmd) in table.items() if session in cmd and pid not in (exclude, os.getpid())}
    grew = True
    while grew:
        kids = {pid for pid, (ppid, _) in table.items() if ppid in found} - found - {os.getpid()}
        grew = bool(kids)
        found |= kids
    return {pid: s for pid in found if (s := _start(pid)) is not None}


def _stop(procs: dict[int, int]) -> None:
    alive = lambda: {p: s for p, s in procs.items() if _start(p) == s}  # noqa: E731 - same process, not a reused pid
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, 2.0)):
        for pid in alive():
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)


def _trials(procs: dict[int, int]) -> list[int]:
    """The live processes among `procs` that run a trial (a `ray::` actor or task that is not
    one of Ray's own services)."""
    table = _table()
    return [p for p, s in procs.items() if _start(p) == s and p in table
            and table[p][1].startswith("ray::") and not table[p][1].startswith(_SERVICES)]


def watch(driver: int, driver_start: int, session: str) -> None:
    """Note the session's processes while the driver lives; once it is gone, let running trials
    checkpoint and exit (up to TRIAL_GRACE_S), then stop everything of the session."""
    seen: dict[int, int] = {}
    while _start(driver) == driver_start:
        seen.update(session_processes(session, exclude=driver))
        seen = {p: s for p, s in seen.items() if _start(p) == s}
        time.sleep(POLL_S)
    deadline = time.monotonic() + TRIAL_GRACE_S
    while _trials(seen) and time.monotonic() < deadline:
        time.sleep(0.5)
    _stop({**seen, **session_processes(session)})


def start(session: str) -> subprocess.Popen | None:
    """Start the watcher for this process's Ray session (call it right after ray.init)."""
    me = os.getpid()
    started = _start(me)
    if started is None:  # no /proc: nothing to watch with
        return None
    return subprocess.Popen([sys.executable, "-m", "core.sweeps.reaper", str(me), str(started), session],
                            cwd=Path(__file__).resolve().parents[2], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
