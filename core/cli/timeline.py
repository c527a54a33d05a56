"""CLI: `timeline MODEL` prints a run's or a zoo model's per-epoch records (`--json`, `--gif`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli.options import MODEL_HELP, add_json, add_model
from core.cli.text import table


def cmd_timeline(a):
    from core.train import timeline as tl_mod
    if a.list or not a.model:
        names = tl_mod.available()
        if a.json:
            print(json.dumps(names))
        else:
            print("\n".join(names) if names else "no timelines yet: train a run (eval_every 1 is the default)")
        return
    tl = tl_mod.load(a.model)
    summ = tl_mod.summary(tl)
    from core.results.freshness import timeline_note
    if note := timeline_note(tl):
        print(note, file=sys.stderr)
    if a.gif:
        Path(a.gif).write_bytes(tl_mod.animation(tl))
    for bad in tl.unreadable:  # damaged parts are skipped and named; the rest is shown
        print(f"skipped: {bad}", file=sys.stderr)
    if a.json:
        print(json.dumps({"model": tl.name, "rows": tl.rows, "summary": summ, "unreadable": tl.unreadable}, indent=2))
        return
    rows = [{**r, **({"raw_fid": r["raw"]["fid"]} if r.get("raw") else {})} for r in tl.rows]
    from core.eval.names import METRICS
    cols = ["epoch", *METRICS, "confidence", "cond_acc"] + (["raw_fid"] if any("raw_fid" in r for r in rows) else [])
    cols = [c for c in cols if any(r.get(c) is not None for r in rows)]
    print(f"{tl.name}: {len(rows)} records, epochs {rows[0]['epoch']}..{rows[-1]['epoch']}, n {rows[-1]['n']} digits "
          f"each on fixed noise (not the leaderboard's n 10k)")
    print(table(rows, cols))
    first = summ["first_epoch_over_5pct"]
    print("classes first above 5% of the samples: "
          + "  ".join(f"{d}@{e if e is not None else 'never'}" for d, e in first.items()))
    if summ["best_fid"] is not None:
        print(f"best FID {summ['best_fid']:.3f} at epoch {summ['best_fid_epoch']}")
    if summ["record_cost"] is not None:
        print(f"recorder cost: {100 * summ['record_cost']:.1f}% of the training time between records (median)")
    if a.gif:
        print(f"wrote {a.gif}")


def add_parsers(sub) -> None:
    s = sub.add_parser("timeline", help="a model's training timeline: quality and classes per epoch",
                       description="Every eval_every-th epoch of a run (and its last) is scored on fixed noise: "
                                   "FID / precision / recall / density / coverage at n eval_n, the class histogram "
                                   "and its KL to uniform, and the digits' places on a fixed 2-D map.")
    add_model(s, optional=True, help="a run id or a zoo model with a timeline; " + MODEL_HELP.split(",")[0])
    s.add_argument("--list", action="store_true", help="the models that have a timeline")
    s.add_argument("--gif", metavar="PATH", help="also write the animated timeline (grid + map per epoch)")
    add_json(s)
    s.set_defaults(fn=cmd_timeline)
