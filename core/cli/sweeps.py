"""CLI commands for sweeps on Ray Tune: `sweep` (train a grid), `sweep list|show|cancel`,
`sweep-refit` (EM components) and `sweep-refine` (DRS / DOT knobs)."""
from __future__ import annotations

import contextlib
import json
import os
import sys

from core.cli.options import add_json, add_model, add_set, int_list, non_negative_int, positive_int
from core.cli.text import table
from core.errors import ConfigError
from core.sweeps.check import MAX_TRIALS

ACTIONS = ("list", "show", "cancel", "export")
CPU_HELP = ("CPU cores each trial holds (default 1: on this machine's {n} cores, {n} trials run at once, each "
            "with torch using 1 thread, so trials × threads never exceed the cores)")


def _print_status(st: dict) -> None:
    if st.get("status") == "unreadable":
        print(f"{st['name']}: unreadable ({st.get('reason')})")
        return
    counts = ", ".join(f"{v} {k}" for k, v in sorted((st.get("counts") or {}).items())) or "no trial started"
    print(f"{st['name']}: {st['status']} · {st.get('trials', 0)}/{st.get('expected', '?')} trials ({counts})"
          + (" · shipped" if st.get("source") == "shipped" else ""))


def _print_table(rows: list[dict], metric: str) -> None:
    if not rows:
        print("no trials yet")
        return
    from core.eval.names import METRICS
    knobs = [k for k in rows[0] if k not in ("trial", "status", "run_id", "epoch", "progress", "scored_n", "wall_s",
                                              "reason", *METRICS)]
    print(table(rows, ["trial", *knobs, "status", "epoch", "fid", "precision", "recall", "coverage", "class_kl",
                        "scored_n", "wall_s", "run_id"]))


def cmd_sweep(a):
    from core.sweeps import drive as sweep_drive
    from core.sweeps import results as sweep_results
    from core.sweeps import spec as sweep_spec
    if a.what in ACTIONS:
        if a.what == "list":
            rows = sweep_results.listing()  # this machine's, then the shipped ones (the Sweeps page's list)
            if a.json:
                print(json.dumps(rows, indent=2))
            elif not rows:
                print("no sweeps yet: `python -m core sweep VARIANT --grid key=v1,v2`")
            for r in [] if a.json else rows:
                _print_status(r)
            return
        if not a.target:
            raise ConfigError(f"sweep {a.what} needs the sweep's NAME (see `python -m core sweep list`)")
        if a.what == "cancel":
            print(f"{a.target}: {sweep_drive.cancel(a.target)}")
            return
        if a.what == "export":
            print(f"{a.target} -> {sweep_results.export(a.target, a.note or '')}")
            return
        v = sweep_results.sweep_with_trials(a.target)  # this machine's, else the shipped one
        from core.results.freshness import sweep_note
        if note := sweep_note(v):
            print(note, file=sys.stderr)
        if a.json:
            print(json.dumps({k: val for k, val in v.items() if k not in ("grids", "source")}, indent=2))
        else:
            _print_status(v)
            _print_table(v["rows"], v["spec"]["metric"])
        return
    from core.gan.variants import parse_sets
    spec = sweep_spec.make_spec("train", variant=a.what, grid=sweep_spec.parse_grid(a.grid),
                                random=sweep_spec.parse_random(a.random), samples=a.samples, seeds=a.seeds,
                                epochs=a.epochs, max_steps=a.max_steps, scheduler=a.scheduler, metric=a.metric,
                                cpus_per_trial=a.cpus_per_trial, quick_n=a.quick_n, score_n=a.score_n,
                                data_limit=a.data_limit or 0, fixed=parse_sets(a.set), name=a.name,
                                max_trials=a.max_trials, track=a.track)
    if a.track:  # a tracking URI that does not answer is one line, before Ray starts
        from core.track.mlflow_sink import client_and_experiment
        client_and_experiment()
    _run(spec, a)


def _run(spec: dict, a) -> None:
    from core.sweeps import drive as sweep_drive
    from core.sweeps import results as sweep_results
    from core.sweeps import spec as sweep_spec
    from core.sweeps.check import check_address, check_limits
    check_address(a.address or os.environ.get("RAY_ADDRESS"))  # bad input: one line, before the sweep is announced
    check_limits()
    print(f"sweep {spec['name']}: {sweep_spec.n_trials(spec)} trials on Ray "
          f"({a.address or os.environ.get('RAY_ADDRESS') or 'started on this machine'})", file=sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr) if a.json else contextlib.nullcontext():  # Tune's tables
            res = sweep_drive.run_sweep(spec, address=a.address, progress=not a.json)
    finally:
        sweep_drive.shutdown()
    if a.json:
        print(json.dumps({**res, "rows": sweep_results.table(spec["name"])}, indent=2))
    else:
        _print_status(res)
        _print_table(sweep_results.table(spec["name"]), spec["metric"])
        print(f"Ray started in {res.get('ray_start_seconds')} s; trials ran {res.get('fit_seconds')} s; "
              f"open the Sweep page or `python -m core sweep show {spec['name']}`", file=sys.stderr)


def cmd_sweep_refit(a):
    from core.sweeps import spec as sweep_spec
    spec = sweep_spec.make_spec("refit", model=a.model, grid={"components": sweep_spec.parse_range(a.components, a.max_trials)},
                                seeds=a.seeds, metric=a.metric, cpus_per_trial=a.cpus_per_trial,
                                score_n=a.score_n, n=a.n, fixed={"steps": a.steps}, name=a.name, max_trials=a.max_trials)
    _warm_inversion(spec)
    _run(spec, a)


def _warm_inversion(spec: dict) -> None:
    """Invert the digits once, here, so every trial reads the same cached codes."""
    from core.explore.latent import invert_split
    print(f"inverting {spec['n'] or 'all'} train digits once (cached for every trial)…", file=sys.stderr)
    invert_split(spec["model"], n=spec["n"], steps=spec["fixed"]["steps"], seed=spec["seeds"][0])


def cmd_sweep_refine(a):
    from core.sweeps import spec as sweep_spec
    grid = sweep_spec.parse_grid(a.grid)
    spec = sweep_spec.make_spec("refine", model=a.model, method=a.method, grid=grid, seeds=a.seeds,
                                metric=a.metric, cpus_per_trial=a.cpus_per_trial, score_n=a.n, name=a.name,
                                max_trials=a.max_trials)
    _run(spec, a)


def _common(s, cpus: int) -> None:
    s.add_argument("--seeds", type=int_list, default="0",
                   help="comma-separated seeds; each knob setting runs once per seed")
    s.add_argument("--metric", default="fid", help="fid (default), precision, recall, density, coverage or class_kl")
    s.add_argument("--cpus-per-trial", type=int, default=1, help=CPU_HELP.format(n=cpus))
    s.add_argument("--address", help="a Ray cluster to join (auto, or HOST:PORT; also $RAY_ADDRESS); "
                                     "default: start Ray on this machine")
    s.add_argument("--name", help="the sweep's name (default: variant or model, knobs, time); the same name and "
                                  "settings again resume it")
    s.add_argument("--max-trials", type=int, default=MAX_TRIALS,
                   help=f"refuse a sweep of more trials than this (default {MAX_TRIALS}); raise it on purpose")
    add_json(s)


def add_parsers(sub) -> None:
    cpus = os.cpu_count() or 1
    s = sub.add_parser("sweep", help="train a variant over a grid of knobs × seeds on Ray Tune; list / show / cancel",
                       description="`sweep VARIANT --grid k=v1,v2 …` runs one ordinary run per trial (every page can "
                                   "open it). `sweep list`, `sweep show NAME`, `sweep cancel NAME`, `sweep export "
                                   "NAME` (ship its scores and grids in trained/sweeps/).")
    s.add_argument("what", metavar="VARIANT|list|show|cancel|export")
    s.add_argument("target", nargs="?", metavar="NAME", help="show / cancel / export: the sweep")
    s.add_argument("--note", help="export: how this sweep differs from the seed's setting (shown on the page)")
    s.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="values to sweep (repeatable)")
    s.add_argument("--random", action="append", default=[], metavar="KEY=loguniform:LO:HI",
                   help="a random draw per sample (uniform:LO:HI too)")
    s.add_argument("--samples", type=int, default=1, help="draws of --random (each grid point repeated)")
    s.add_argument("--epochs", type=positive_int)
    s.add_argument("--max-steps", type=positive_int)
    s.add_argument("--scheduler", default="none", help="none, or asha: stop bad trials early on their quick score")
    add_set(s, help="a knob every trial shares")
    s.add_argument("--data-limit", type=positive_int, help="train on the first N digits (tiny sweeps)")
    s.add_argument("--track", choices=["mlflow"], help="one MLflow parent run for the sweep, a child run per trial "
                                                       "($MLFLOW_TRACKING_URI, else the run store's database)")
    s.add_argument("--quick-n", type=int, default=2000, help="digits of the quick score each epoch reports")
    s.add_argument("--score-n", type=positive_int, default=10_000, help="digits of each finished trial's final score")
    _common(s, cpus)
    s.set_defaults(fn=cmd_sweep)

    s = sub.add_parser("sweep-refit", help="EM-refit a model's prior for each number of components (seed 004 Fig. 4)")
    add_model(s)
    s.add_argument("--components", default="1..20", help="A..B or a,b,c")
    s.add_argument("--n", type=non_negative_int, default=1000, help="train digits inverted once, shared by every trial (0 = all)")
    s.add_argument("--steps", type=positive_int, default=1000, help="inversion steps")
    s.add_argument("--score-n", type=positive_int, default=10_000)
    _common(s, cpus)
    s.set_defaults(fn=cmd_sweep_refit)

    s = sub.add_parser("sweep-refine", help="DRS / DOT knobs of one model on the same engine")
    add_model(s)
    s.add_argument("--method", required=True, choices=["drs", "drs-sigmoid", "dot-latent", "dot-target"])
    s.add_argument("--grid", action="append", default=[], metavar="KNOB=V1,V2",
                   help="e.g. percentile=50,70,90 (drs), steps=5,10,20 or lr=0.003,0.01 (dot)")
    s.add_argument("--n", type=positive_int, default=2000, help="digits scored before and after")
    _common(s, cpus)
    s.set_defaults(fn=cmd_sweep_refine)
