"""Sweeps on a real Ray (core/sweeps/, `python -m core sweep`): started on this machine by
default or joined with --address; trials are runs; faults, cancel and resume. The sweeps that test
what a sweep does join the session's `ray start` cluster (conftest's ray_cluster); the kill test
starts a Ray of its own in its driver, as a user's `python -m core sweep` does."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.errors import ConfigError
from core.store.runs import Run, list_runs
from core.sweeps import records as sweep_records
from core.sweeps import results as sweep_results
from core.sweeps import spec as sweep_spec

from helpers import ROOT, rest, run_cli

# a trial's own scores (quick and final) are what the sweeps read; the timeline recorder (tested in
# test_timeline.py) is off in their trials, as in the tests' TINY config
TINY = ["--epochs", "1", "--set", "batch_size=16", "--set", "eval_every=0", "--data-limit", "128", "--quick-n", "40",
        "--score-n", "60"]


def sweep_cli(*args, timeout=400, **kw):
    r = run_cli("sweep", *args, timeout=timeout, **kw)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_specs_are_checked_before_anything_starts():
    assert sweep_spec.parse_grid(["prior_sigma=0.2,1", "clip=0.01"]) == {"prior_sigma": [0.2, 1], "clip": [0.01]}
    assert sweep_spec.parse_random(["lr_g=loguniform:1e-5:1e-3"]) == {"lr_g": ["loguniform", 1e-5, 1e-3]}
    assert sweep_spec.parse_range("1..4") == [1, 2, 3, 4] and sweep_spec.parse_range("2,5") == [2, 5]
    spec = sweep_spec.make_spec(variant="wgan-gp", grid={"lr_g": [1e-4, 2e-4]}, seeds=[0, 1, 2], name="s")
    assert sweep_spec.n_trials(spec) == 6 and spec["epochs"] == 30  # the variant's default
    for kw, match in [({"grid": {"lr_gg": [1]}}, "unknown hyper-parameter 'lr_gg'"),
                      ({"grid": {"lr_g": [-1]}}, "lr_g must be positive"),
                      ({"grid": {}}, "needs something to vary"),
                      ({"grid": {"lr_g": [1e-4]}, "scheduler": "hyperband"}, "--scheduler must be one of"),
                      ({"grid": {"lr_g": [1e-4]}, "name": "../x"}, "sweep name")]:
        with pytest.raises(ConfigError, match=match):
            sweep_spec.make_spec(variant="wgan-gp", **kw)
    with pytest.raises(ConfigError, match="loguniform"):
        sweep_spec.parse_random(["lr_g=loguniform:0:1"])
    r = run_cli("sweep", "wgan-gp", "--grid", "n_critic=0,1")
    assert r.returncode == 2 and "n_critic must be positive" in r.stderr and "Traceback" not in r.stderr


def test_knob_curve_is_the_mean_and_spread_over_seeds():
    rows = [{"status": "done", "s": 1, "fid": 4.0}, {"status": "done", "s": 1, "fid": 6.0},
            {"status": "done", "s": 2, "fid": 3.0}, {"status": "failed", "s": 2, "fid": float("inf")}]
    assert sweep_results.knob_curve(rows, "s", "fid") == [{"value": 1, "mean": 5.0, "min": 4.0, "max": 6.0, "n": 2},
                                                  {"value": 2, "mean": 3.0, "min": 3.0, "max": 3.0, "n": 1}]


def test_a_two_trial_sweep_end_to_end(ray_cluster, mlflow_server, monkeypatch):
    """One trial diverges (lr_d 1e30): it ends failed and the sweep goes on. Tracked in MLflow: one
    parent run, each trial's run its child (its knobs, its final scores, its status)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    args = ["wgan-gp", "--grid", "lr_d=1e-4,1e30", *TINY, "--name", "two", "--json", "--address", ray_cluster,
            "--track", "mlflow"]
    res = json.loads(sweep_cli(*args).stdout)
    assert res["status"] == "done" and res["counts"] == {"done": 1, "failed": 1} and res["expected"] == 2
    assert res["address"] == ray_cluster  # it joined the session's `ray start` cluster
    assert res["ray_start_seconds"] > 0 and res["fit_seconds"] > 0
    rows = {row["lr_d"]: row for row in res["rows"]}
    ok, bad = rows[1e-4], rows[1e30]
    run = Run.open(ok["run_id"])  # an ordinary run in the run store, tagged with its sweep
    assert run.config()["lr_d"] == 1e-4 and run.tags()["sweep"] == "two"
    assert run.status()["status"] == "done" and run.checkpoint_path.is_file()
    scores = json.loads((run.path / "scores.json").read_text())  # the final score is score_model's
    assert any(s["n"] == 60 and s["fid"] == ok["fid"] for s in scores.values())
    assert bad["status"] == "failed" and ("not finite" in bad["reason"] or "became" in bad["reason"])
    assert Run.open(bad["run_id"]).status()["status"] == "failed"
    parent = sweep_records.read_spec("two")["mlflow_parent"]
    got = rest(mlflow_server, "runs/get", run_id=parent)["run"]
    assert {t["key"]: t["value"] for t in got["data"]["tags"]}["latent_lab.sweep"] == "two"
    assert got["info"]["status"] == "FINISHED"
    children = rest(mlflow_server, "runs/search", {"experiment_ids": [got["info"]["experiment_id"]],
                                                   "filter": f"tags.mlflow.parentRunId = '{parent}'"})["runs"]
    child = {{t["key"]: t["value"] for t in c["data"]["tags"]}["latent_lab.run_id"]: c for c in children}
    assert sorted(child) == sorted([ok["run_id"], bad["run_id"]])
    good = child[ok["run_id"]]
    assert {p["key"]: p["value"] for p in good["data"]["params"]}["lr_d"] == "0.0001"
    assert {m["key"]: m["value"] for m in good["data"]["metrics"]}["final/fid"] == pytest.approx(ok["fid"])
    assert (good["info"]["status"], child[bad["run_id"]]["info"]["status"]) == ("FINISHED", "FAILED")
    shown = json.loads(sweep_cli("show", "two", "--json").stdout)
    assert [t["run_id"] for t in shown["rows"]] == [t["run_id"] for t in res["rows"]]
    listed = json.loads(sweep_cli("list", "--json").stdout)
    assert [(s["name"], s["trials"], s["status"]) for s in listed if s["source"] == "live"] == [("two", 2, "done")]
    assert listed[0]["name"] == "two" and {s["source"] for s in listed[1:]} <= {"shipped"}  # then the shipped ones
    again = json.loads(sweep_cli(*args).stdout)  # the same command again: nothing is retrained
    assert sorted(t["run_id"] for t in again["rows"]) == sorted(t["run_id"] for t in res["rows"])
    assert len(list_runs()) == 2


def test_asha_stops_the_trials_that_lag_at_a_rung(ray_cluster):
    """The good trial reaches the first rung with a bad one; the later bad ones fall below the
    rung's median and are stopped after their first epoch, their runs checkpointed."""
    args = ["wgan-gp", "--grid", "lr_g=2e-4,1e-9,2e-9,3e-9", "--epochs", "3", "--set", "batch_size=16", "--set", "eval_every=0",
            "--data-limit", "320", "--quick-n", "40", "--score-n", "60", "--scheduler", "asha", "--name", "asha",
            "--json", "--address", ray_cluster]
    res = json.loads(sweep_cli(*args).stdout)
    stopped = [r for r in res["rows"] if r["status"] == "stopped"]
    assert stopped and all(r["lr_g"] < 1e-8 and r["epoch"] < 3 for r in stopped), res["rows"]
    run = Run.open(stopped[0]["run_id"])
    assert run.status()["status"] == "cancelled" and "ASHA" in run.status()["reason"]
    assert run.checkpoint_path.is_file()
    assert next(r for r in res["rows"] if r["lr_g"] == 2e-4)["status"] == "done"
    # two slots, four trials: a finished (or stopped) trial's worker process took a later trial
    workers = [t["worker_pid"] for t in sweep_records.trial_records("asha")]
    assert len(workers) == 4 and len(set(workers)) < 4, workers


def _driver(args, env=None):
    return subprocess.Popen([sys.executable, "-m", "core", "sweep", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **(env or {})})


def _wait(cond, timeout=300, what="condition", show=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}" + (f"; last seen: {show()}" if show else ""))


def _trials(name):
    try:
        return sweep_records.trial_records(name)
    except Exception:  # noqa: BLE001 - not written yet
        return []


def test_cancelling_a_sweep_checkpoints_and_cancels_its_trials(ray_cluster):
    args = ["wgan-gp", "--grid", "lr_g=1e-4,2e-4,3e-4", "--epochs", "200", "--set", "batch_size=16", "--set", "eval_every=0",
            "--data-limit", "128", "--quick-n", "20", "--score-n", "60", "--name", "stop", "--cpus-per-trial", "2",
            "--address", ray_cluster]
    proc = _driver(args)
    try:
        _wait(lambda: any(t.get("quick") for t in _trials("stop")), what="a trial's first epoch")
        assert sweep_cli("cancel", "stop").stdout.startswith("stop: cancel requested")
        proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    st = sweep_records.status("stop")
    assert st["status"] == "cancelled"
    trials = sweep_records.trial_records("stop")
    first = next(t for t in trials if t.get("run_id"))
    run = Run.open(first["run_id"])
    assert run.status()["status"] == "cancelled" and run.checkpoint_path.is_file()  # checkpointed, then stopped
    assert run.status()["epoch"] < 200
    assert all(t["status"] == "cancelled" for t in trials)  # none went on, none started after


def test_a_killed_driver_resumes_without_rerunning_finished_trials():
    # one trial at a time (two side by side finish together, and the kill raced the second's
    # end), epochs of 100 steps (~2 s): the kill lands while the second has epochs to go
    args = ["wgan-gp", "--grid", "lr_g=1e-4,2e-4", "--epochs", "3", "--set", "batch_size=16", "--data-limit",
            "1600", "--set", "eval_every=0", "--quick-n", "20", "--score-n", "60", "--cpus-per-trial", "2",
            "--name", "kill"]
    proc = _driver(args)
    try:
        _wait(lambda: any(t["status"] == "done" for t in _trials("kill"))
              and any(t["status"] == "running" and 1 <= len(t.get("quick", [])) < 3 for t in _trials("kill")),
              what="one trial done and another past its first epoch")
        os.kill(proc.pid, signal.SIGKILL)  # kill -9 of the driver: Ray's processes go down with it
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert sweep_records.status("kill")["status"] == "interrupted"
    # the orphaned trial's watchdog stops it at its next log row (or ends its process within
    # core.sweeps.trial.ORPHAN_GRACE_S when it is blocked in a report no driver will read)
    _wait(lambda: "interrupted" in {t["status"] for t in _trials("kill")}, timeout=120,
          what="the killed driver's trial process to end",
          show=lambda: [(t["status"], t.get("reason"), len(t.get("quick", []))) for t in _trials("kill")])
    before = {t["trial"]: t for t in sweep_records.trial_records("kill")}
    res = json.loads(sweep_cli(*args, "--json").stdout)
    assert res["status"] == "done" and res["counts"] == {"done": 2} and res["resumed"]
    after = {t["trial"]: t for t in sweep_records.trial_records("kill")}
    for tid, t in before.items():
        assert after[tid]["run_id"] == t["run_id"]  # every trial kept its run
        if t["status"] == "done":
            assert after[tid]["started"] == t["started"] and after[tid]["wall_seconds"] == t["wall_seconds"]
    resumed = next(tid for tid, t in before.items() if t["status"] == "interrupted")
    assert [q["epoch"] for q in after[resumed]["quick"]] == [1, 2, 3]  # its curve continues, not restarted


def test_post_training_sweeps_run_on_the_same_engine(model_copy, ray_cluster):
    """EM components (seed 004 Fig. 4) and a DRS knob: one trial per value, each scored."""
    res = json.loads(run_cli("sweep-refit", model_copy, "--components", "1..2", "--n", "30", "--steps", "5",
                             "--score-n", "60", "--name", "em", "--json", "--address", ray_cluster, timeout=400).stdout)
    assert res["counts"] == {"done": 2} and res["baseline"]["n"] == 60
    assert sorted(r["components"] for r in res["rows"]) == [1, 2] and all(r["fid"] > 0 for r in res["rows"])
    from core.store.registry import list_priors
    assert list_priors(model_copy) == ["em-k1", "em-k2"]  # each trial's prior, beside the model
    r = run_cli("sweep-refine", model_copy, "--method", "drs", "--grid", "percentile=50,90", "--n", "200",
                "--name", "drs", "--json", "--address", ray_cluster, timeout=400)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert res["counts"] == {"done": 2} and sorted(r["percentile"] for r in res["rows"]) == [50, 90]
    r = run_cli("sweep-refine", model_copy, "--method", "drs", "--grid", "stepz=1,2")
    assert r.returncode == 2 and "stepz is not a refine knob" in r.stderr
