"""`export`: a run, an old run or a zoo model into MLflow or TensorBoard (core/track/)."""
from __future__ import annotations

from pathlib import Path

from core.cli.options import add_json
from core.cli.text import report


def cmd_export(a):
    from core.errors import ConfigError
    if bool(a.source) == bool(a.sweep):
        raise ConfigError("export takes a RUN_OR_MODEL or --sweep NAME (one of them)")
    if a.sweep:
        from core.sweeps.tracking import export_sweep
        res = export_sweep(a.sweep, a.to)
        report(a, res, lambda r: f"{r['source']} -> {r['to']}: a parent run and {r['trials']} child runs at {r['where']}")
        return
    from core.track.replay import export
    res = export(a.source, a.to, Path(a.out) if a.out else None)
    report(a, res, lambda r: f"{r['source']} -> {r['to']}: {r['rows']} metric rows, {r['grids']} grid(s)"
                             f"{', the checkpoint' if r['checkpoint'] else ''} at {r['where']}")


def add_parsers(sub) -> None:
    s = sub.add_parser("export", help="log a run or a zoo model to MLflow or TensorBoard after the fact")
    s.add_argument("source", nargs="?", metavar="RUN_OR_MODEL", help="a run id (python -m core runs) or a zoo model name")
    s.add_argument("--sweep", metavar="NAME", help="a sweep (python -m core sweep list), to MLflow: a parent run and "
                                                   "a child run per trial")
    s.add_argument("--to", required=True, choices=["mlflow", "tensorboard"],
                   help="mlflow: $MLFLOW_TRACKING_URI, else the run store's local database; tensorboard: event "
                        "files in the run's folder (a zoo model's: runs/zoo/NAME/tensorboard)")
    s.add_argument("--out", help="tensorboard: write the event files here instead")
    add_json(s)
    s.set_defaults(fn=cmd_export)
