"""CLI commands over this machine's runs: `runs` (list them) and `cancel` (stop one)."""
from __future__ import annotations

import json

from core.cli.options import add_json
from core.cli.text import table


def cmd_runs(a):
    from core.store.runs import list_runs
    rows = []
    for run in list_runs():
        try:
            rows.append(run.summary())
        except Exception as exc:  # a corrupt run is reported, not fatal
            rows.append({"run_id": run.id, "status": "unreadable", "reason": str(exc)})
    if a.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no runs yet: `python -m core train --variant wgan-gp`")
    else:
        print(table(rows, ["run_id", "variant", "status", "epoch", "epochs", "step", "device", "reason"]))


def cmd_cancel(a):
    from core.store.runs import cancel
    print(f"{a.run_id}: {cancel(a.run_id)}")


def add_parsers(sub) -> None:
    s = sub.add_parser("runs", help="list runs")
    add_json(s)
    s.set_defaults(fn=cmd_runs)

    s = sub.add_parser("cancel", help="stop a running run (it checkpoints first)")
    s.add_argument("run_id")
    s.set_defaults(fn=cmd_cancel)
