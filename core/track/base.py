"""The trackers' common ground: a Sink (one tracker), Tracking (a run's sinks, each guarded), and a run's
tracking.json (which trackers it logs to, and their run ids)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

TRACKERS = ("mlflow", "tensorboard")
TRACKING_FILE = "tracking.json"  # in a run's folder: which trackers it logs to, and their run ids


TIMELINE_PREFIX = "tl_"  # the timeline recorder's rows (core.train.recorder logs its records with it)


def first_line(exc: BaseException) -> str:
    """What a tracker's failure says, in one short line."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


class Sink:
    """One tracker. Every method may raise: `Tracking` catches, says so once, and drops the sink."""
    name = "sink"

    def start(self, config: dict, step: int) -> None: ...
    def log(self, step: int, epoch: float, row: dict) -> None: ...
    def epoch(self, epoch: int, step: int, grid: Path | None, weight_hist: dict | None) -> None: ...
    def end(self, status: str, step: int, scores: dict | None, checkpoint: Path | None) -> None: ...


class Tracking:
    """The sinks of one run, each guarded: a failing one is reported once on stderr and dropped."""

    def __init__(self, sinks: list[Sink]):
        self.sinks = list(sinks)
        self.dropped: dict[str, str] = {}

    def _each(self, method: str, *args) -> None:
        for sink in list(self.sinks):
            try:
                getattr(sink, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a tracker never stops a run
                self.drop(sink, f"{type(exc).__name__}: {first_line(exc)}")

    def drop(self, sink: Sink, why: str) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)
            self.dropped[sink.name] = why
            print(f"{sink.name}: stopped logging ({why}); training goes on and the run store keeps every "
                  "record", file=sys.stderr)

    def start(self, config: dict, step: int) -> None:
        self._each("start", config, step)

    def log(self, step: int, epoch: float, row: dict) -> None:
        if row:
            self._each("log", step, epoch, row)

    def epoch(self, epoch: int, step: int, grid: Path | None, weight_hist: dict | None) -> None:
        self._each("epoch", epoch, step, grid, weight_hist)

    def end(self, status: str, step: int, scores: dict | None, checkpoint: Path | None) -> None:
        self._each("end", status, step, scores, checkpoint)
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if close:
                try:
                    close()
                except Exception as exc:  # noqa: BLE001
                    self.drop(sink, f"{type(exc).__name__}: {exc}")


def read_tracking(folder: Path) -> dict:
    """A run's tracking.json ({} when it has none or it is unreadable)."""
    try:
        data = json.loads((Path(folder) / TRACKING_FILE).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_tracking(folder: Path, data: dict) -> None:
    from core.store.files import write_json_atomic
    write_json_atomic(Path(folder) / TRACKING_FILE, data)


def request(folder: Path, tracker: str, parent: str | None = None) -> None:
    """Record that the run in `folder` logs to `tracker` (train --track): its resumes do too;
    `parent`: the MLflow run it is a child of (a sweep's)."""
    from core.errors import ConfigError
    if tracker not in TRACKERS:
        raise ConfigError(f"--track must be one of {', '.join(TRACKERS)} (got {tracker!r})")
    data = read_tracking(folder)
    data.setdefault(tracker, {})
    if parent:
        data[tracker]["parent_run_id"] = parent
    write_tracking(folder, data)
