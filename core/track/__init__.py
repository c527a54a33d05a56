"""Trackers: a run's records mirrored, as they are written, into the tools users already keep their
experiments in — TensorBoard event files beside every run's metrics, and an MLflow run for a run
started with `--track mlflow`. The run store stays the source of truth: a tracker that fails (a
server that went away, a package that is missing) says so once and is dropped; training goes on and
the store keeps everything, so `python -m core export RUN --to mlflow` can log it again later.

The engine calls one `Tracking` object at four points: `start` (config), `log` (every metric row,
timeline records included), `epoch` (the epoch's sample grid, the critic's weight histograms) and
`end` (status, final scores, checkpoint). `core.track.replay` feeds the same calls from a finished
run or a zoo model (`export`)."""
from __future__ import annotations

import sys
from pathlib import Path

from core.track.base import TIMELINE_PREFIX, TRACKERS, Sink, Tracking, first_line, read_tracking, request, write_tracking

__all__ = ["TIMELINE_PREFIX", "TRACKERS", "Sink", "Tracking", "for_run", "read_tracking", "request", "scored", "write_tracking"]


def scored(folder: Path, scores: dict) -> None:
    """A run in `folder` was scored: its MLflow run (if it has one) gets the scores as final/ metrics.
    A tracker that does not answer is one line on stderr; the scores are in the store either way."""
    state = read_tracking(folder).get("mlflow", {})
    if not state.get("run_id"):
        return
    try:
        from core.track.mlflow_sink import log_final
        log_final(state["run_id"], scores)
    except Exception as exc:  # noqa: BLE001 - never fails the scoring
        print(f"mlflow: could not log the scores ({first_line(exc)}); they are in the run's scores.json",
              file=sys.stderr)


def for_run(run) -> Tracking:
    """The sinks of a run in the run store: TensorBoard event files always (where the package is
    installed), MLflow where the run asked for it (tracking.json)."""
    from core.track.tensorboard_sink import TensorBoardSink, available
    sinks: list[Sink] = [TensorBoardSink(run.path / "tensorboard")] if available() else []
    if "mlflow" in (tracking := read_tracking(run.path)):
        from core.track.mlflow_sink import MlflowSink
        sinks.append(MlflowSink(run.path, run.id, parent_run_id=tracking["mlflow"].get("parent_run_id")))
    return Tracking(sinks)
