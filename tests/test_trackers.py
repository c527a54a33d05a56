"""Trackers (core/track/): TensorBoard event files beside every run's metrics, read back with
TensorBoard's own EventAccumulator; MLflow through a real tracking server started here (conftest's
mlflow_server), read back over its REST API; export of a finished run and of a zoo model."""
import json
import urllib.parse
import urllib.request

import pytest

from core.store.runs import Run

from helpers import TINY_DATA, CuttableProxy, free_port, rest, trained_run

TRAIN = ["train", "--variant", "wgan-wc", "--epochs", "2", "--data-limit", str(TINY_DATA), "--set", "batch_size=16",
         "--set", "log_every=2", "--set", "eval_every=1", "--set", "eval_n=50", "--device", "cpu"]


def history(base: str, run_id: str, key: str) -> list[tuple[int, float]]:
    res = rest(base, "metrics/get-history", run_id=run_id, metric_key=key, max_results=10000)
    return sorted((int(m["step"]), m["value"]) for m in res.get("metrics", []))


def artifacts(base: str, run_id: str, path: str) -> list[str]:
    return sorted(f["path"] for f in rest(base, "artifacts/list", run_id=run_id, path=path).get("files", []))


def store_series(run: Run, key: str) -> list[tuple[int, float]]:
    return sorted((int(s), v) for s, _e, _w, k, v in run.metrics([key]))


def same(got, want) -> bool:
    """Two series of (step, value): the same steps, the values equal to float32 precision."""
    return [s for s, _ in got] == [s for s, _ in want] and [v for _, v in got] == pytest.approx([v for _, v in want])


def events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_every_run_writes_tensorboard_events_of_its_records():
    """Scalars at the store's steps (train/ and the timeline's records), each epoch's grid, the
    clipped critic's weight histograms."""
    run = trained_run("wgan-wc", epochs=2, eval_every=1, eval_n=50)
    acc = events(run.path / "tensorboard")
    tags = acc.Tags()
    assert {"train/loss_d", "train/loss_g", "timeline/fid", "timeline/precision"} <= set(tags["scalars"])
    for key, t in (("loss_d", "train/loss_d"), ("tl_fid", "timeline/fid")):
        assert same([(e.step, e.value) for e in acc.Scalars(t)], store_series(run, key)), key
    assert [e.step for e in acc.Images("samples")] == [8, 16]  # one grid per epoch, at its last step
    assert "critic_weights/l0" in tags["histograms"]


def test_a_tracked_run_is_one_mlflow_run_and_a_resume_continues_it(cli, mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    r = cli(*TRAIN, "--epochs", "1", "--track", "mlflow")
    assert r.returncode == 0, r.stderr
    run = Run.open(r.stdout.split()[0])
    assert f"tracking to MLflow at {mlflow_server}" in r.stderr
    state = json.loads((run.path / "tracking.json").read_text())["mlflow"]
    assert state["uri"] == mlflow_server
    r = cli("train", "--resume", run.id, "--epochs", "2")
    assert r.returncode == 0, r.stderr
    got = rest(mlflow_server, "runs/get", run_id=state["run_id"])["run"]
    params = {p["key"]: p["value"] for p in got["data"]["params"]}
    tags = {t["key"]: t["value"] for t in got["data"]["tags"]}
    assert params["variant"] == "wgan-wc" and params["batch_size"] == "16" and "log_every" not in params
    assert tags["latent_lab.run_id"] == run.id and tags["config.log_every"] == "2"
    assert tags["latent_lab.resumed_at_step"] == "8" and got["info"]["status"] == "FINISHED"
    for key, t in (("loss_d", "train/loss_d"), ("tl_fid", "timeline/fid"), ("tl_recall", "timeline/recall")):
        assert same(history(mlflow_server, state["run_id"], t), store_series(run, key)), key
    assert artifacts(mlflow_server, state["run_id"], "samples") == ["samples/epoch_0001.png", "samples/epoch_0002.png"]
    assert artifacts(mlflow_server, state["run_id"], "checkpoint") == ["checkpoint/checkpoint.pt"]
    r = cli("score", run.id, "--n", "60", "--json")  # its final scores, when it is scored
    assert r.returncode == 0, r.stderr
    fid = json.loads(r.stdout)["fid"]
    assert history(mlflow_server, state["run_id"], "final/fid") == [(16, pytest.approx(fid))]


def test_a_server_that_goes_away_mid_run_is_said_once_and_training_goes_on(mlflow_server, monkeypatch, capsys):
    from core.gan.variants import make_config
    from core.track import request
    from core.train.engine import Trainer
    proxy = CuttableProxy(int(mlflow_server.rsplit(":", 1)[1]))  # the server, as far as the run can tell
    monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.uri)
    cfg = make_config("wgan-gp", {"batch_size": 16, "log_every": 2, "epochs": 3, "eval_every": 0})
    run = Run.create(cfg)
    request(run.path, "mlflow")
    t = Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA)
    t.on_epoch = lambda tr: proxy.cut() if tr.epoch == 1 else None  # the server goes away after epoch 1
    try:
        assert t.fit() == "done"
    finally:
        proxy.cut()
    run.close()
    err = capsys.readouterr().err
    assert err.count("mlflow: stopped logging") == 1, err
    assert run.status()["status"] == "done" and run.status()["step"] == 24  # nothing lost in the store
    assert len(store_series(run, "loss_d")) == 12 and len(list(run.samples_dir.glob("epoch_*.png"))) == 3


def test_a_tracking_uri_that_does_not_answer_is_one_line_before_anything_trains(cli, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    r = cli(*TRAIN, "--track", "mlflow")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot be used" in r.stderr, r.stderr
    from core.store.runs import list_runs
    assert list_runs() == []


def test_without_a_server_mlflow_logs_to_a_database_in_the_run_store(cli, runs_dir, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    r = cli(*TRAIN, "--epochs", "1", "--track", "mlflow")
    assert r.returncode == 0, r.stderr
    assert "the run store's local database" in r.stderr and (runs_dir / "mlflow.db").is_file()
    from mlflow.tracking import MlflowClient
    run = Run.open(r.stdout.split()[0])
    state = json.loads((run.path / "tracking.json").read_text())["mlflow"]
    client = MlflowClient(tracking_uri=f"sqlite:///{runs_dir / 'mlflow.db'}")
    got = client.get_run(state["run_id"])
    assert got.data.tags["latent_lab.run_id"] == run.id and got.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(state["run_id"], "train/loss_d")] == \
        [s for s, _ in store_series(run, "loss_d")]
    assert (runs_dir / "mlartifacts").is_dir()


def test_export_a_zoo_model_and_an_old_run(cli, mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    r = cli("export", "wgan-gp", "--to", "mlflow", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    run_id = res["where"].split()[-1]
    got = rest(mlflow_server, "runs/get", run_id=run_id)["run"]
    tags = {t["key"]: t["value"] for t in got["data"]["tags"]}
    assert tags["latent_lab.run_id"] == "zoo:wgan-gp" and res["rows"] > 10
    from core.store.registry import zoo_dir
    timeline = json.loads((zoo_dir("wgan-gp") / "timeline.json").read_text())["rows"]
    assert [v for _, v in history(mlflow_server, run_id, "timeline/fid")] == pytest.approx([r["fid"] for r in timeline])
    assert "final/fid" in {m["key"] for m in got["data"]["metrics"]}
    assert artifacts(mlflow_server, run_id, "checkpoint") == ["checkpoint/model.pt"]
    # an old run (its event files removed): export writes them again from the store
    run = trained_run("vanilla")
    import shutil
    shutil.rmtree(run.path / "tensorboard")
    r = cli("export", run.id, "--to", "tensorboard")
    assert r.returncode == 0 and r.stdout.startswith(f"{run.id} -> tensorboard: 4 metric rows, 1 grid(s)"), r
    acc = events(run.path / "tensorboard")
    assert same([(e.step, e.value) for e in acc.Scalars("train/loss_d")], store_series(run, "loss_d"))
    r = cli("export", "no-such-run", "--to", "tensorboard")
    assert r.returncode == 2 and "python -m core runs" in r.stderr


def test_mlflow_server_is_a_real_server(mlflow_server):
    """The fixture's server answers MLflow's own health check (not a mock)."""
    with urllib.request.urlopen(f"{mlflow_server}/health", timeout=10) as r:
        assert r.read().decode().strip() == "OK"


def test_a_shipped_sweep_exported_to_mlflow_is_a_parent_with_a_child_per_trial(cli, mlflow_server, monkeypatch):
    """After the fact: each trial of a shipped sweep a child run with its knobs and final scores (a sweep
    tracked live, `sweep … --track mlflow`, is test_sweep.py's two-trial sweep)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    from core.sweeps.results import sweep_with_trials
    shipped = sweep_with_trials("seed004-sigma-10ep")
    r = cli("export", "--sweep", "seed004-sigma-10ep", "--to", "mlflow", "--json")
    assert r.returncode == 0, r.stderr
    parent = json.loads(r.stdout)["where"].split()[-1]
    got = rest(mlflow_server, "runs/get", run_id=parent)["run"]
    assert {t["key"]: t["value"] for t in got["data"]["tags"]}["latent_lab.sweep"] == "seed004-sigma-10ep"
    kids = rest(mlflow_server, "runs/search", {"experiment_ids": [got["info"]["experiment_id"]],
                                               "filter": f"tags.mlflow.parentRunId = '{parent}'"})["runs"]
    assert len(kids) == len(shipped["rows"])
    from core.sweeps.spec import swept_knobs
    knobs = swept_knobs(shipped["spec"])  # the sigma sweep: sigma and seed

    def key(params):
        return tuple(params[k] for k in knobs)
    fids = {key({p["key"]: p["value"] for p in k["data"]["params"]}):
            next(m["value"] for m in k["data"]["metrics"] if m["key"] == "final/fid") for k in kids
            if any(m["key"] == "final/fid" for m in k["data"].get("metrics", []))}
    assert fids == {key({k: str(row[k]) for k in knobs}): pytest.approx(row["fid"]) for row in shipped["rows"]
                    if row.get("fid") is not None}


def test_import_a_generator_and_critic_logged_to_mlflow_by_another_project(cli, mlflow_server, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    from mlflow.tracking import MlflowClient

    from course_nets import save_pair
    save_pair(tmp_path)  # the course's layout: G.pth, D.pth
    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("other") or client.get_experiment(client.create_experiment("other"))
    run_id = client.create_run(exp.experiment_id).info.run_id
    client.log_artifact(run_id, str(tmp_path / "G.pth"), "models")
    client.log_artifact(run_id, str(tmp_path / "D.pth"), "models")
    r = cli("import", "--mlflow", run_id, "--name", "from-mlflow", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["name"] == "from-mlflow" and res["critic"]
    from core.store.registry import imported_info
    info = json.dumps(imported_info("from-mlflow"))
    assert f"run {run_id}: models/G.pth" in info and f"run {run_id}: models/D.pth" in info
    r = cli("import", "--mlflow", run_id, "--artifact", "models/G.pth", "--name", "g-only", "--json")
    assert r.returncode == 0 and not json.loads(r.stdout)["critic"], r.stderr
    r = cli("import", "--mlflow", "0" * 32)
    assert r.returncode == 2 and "no MLflow run" in r.stderr
    r = cli("import", "--mlflow", run_id, "--artifact", "models/nothing.pth")
    assert r.returncode == 2 and "no artifact" in r.stderr


def test_bench_track_times_the_parts_of_a_tracked_run(runs_dir, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from core.track.bench import bench_tracking
    run = trained_run("wgan-gp", epochs=2, eval_every=1, eval_n=50)
    res = bench_tracking(run.id, epochs=2, per_epoch_rows=3)
    assert res["rows_per_epoch"] == 4 and res["epoch_ms"] > 0 and res["start_s"] > 0 and res["end_s"] > 0
    assert res["mlflow"] == f"sqlite:///{runs_dir / 'mlflow.db'}"
