"""`export`: a run, an old run or a zoo model into MLflow or TensorBoard (core/track/)."""
from __future__ import annotations

from pathlib import Path

from core.cli.options import add_json
from core.cli.text import report


def cmd_export(a):
    from core.track.replay import export
    res = export(a.source, a.to, Path(a.out) if a.out else None)
    report(a, res, lambda r: f"{r['source']} -> {r['to']}: {r['rows']} metric rows, {r['grids']} grid(s)"
                             f"{', the checkpoint' if r['checkpoint'] else ''} at {r['where']}")


def add_parsers(sub) -> None:
    s = sub.add_parser("export", help="log a run or a zoo model to MLflow or TensorBoard after the fact")
    s.add_argument("source", metavar="RUN_OR_MODEL", help="a run id (python -m core runs) or a zoo model name")
    s.add_argument("--to", required=True, choices=["mlflow", "tensorboard"],
                   help="mlflow: $MLFLOW_TRACKING_URI, else the run store's local database; tensorboard: event "
                        "files in the run's folder (a zoo model's: runs/zoo/NAME/tensorboard)")
    s.add_argument("--out", help="tensorboard: write the event files here instead")
    add_json(s)
    s.set_defaults(fn=cmd_export)
