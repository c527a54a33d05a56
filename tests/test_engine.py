"""The one training loop: every variant trains, checkpoints are exact and atomic, NaN stops."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from core.gan import losses
from core.gan.variants import VARIANTS, make_config
from core.store import checkpoint
from core.store.registry import load_model
from core.store.runs import Run, list_runs
from core.train.engine import Trainer, TrainingFailed
from core.train.resume import resume

from helpers import ROOT, TINY, TINY_DATA


def new_run(variant, **over):
    cfg = make_config(variant, {**TINY, **over})
    run = Run.create(cfg)
    return run, Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_trains_a_few_steps(variant):
    run, t = new_run(variant)
    assert t.fit(max_steps=6) == "done"
    rows = run.metrics()
    keys = {k for _, _, _, k, _ in rows}
    assert {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"} <= keys
    assert all(torch.isfinite(torch.tensor(v)) for *_, v in rows)
    if VARIANTS[variant].lipschitz == "gp":
        assert "gp" in keys
    if VARIANTS[variant].lipschitz == "clip":
        assert "clip_sat_l0" in keys
    if VARIANTS[variant].prior != "gaussian":
        assert "prior_sigma_mean" in keys
    assert run.status()["status"] == "done" and run.status()["step"] == 6
    m = load_model(str(run.checkpoint_path))
    z, y = m.prior.sample(5)
    x = m.G(z, y if m.G.n_classes else None)
    assert x.shape == (5, 784) and x.abs().max() <= 1


def test_epoch_end_writes_grid_checkpoint_and_throughput():
    run, t = new_run("wgan-gp", epochs=1, log_every=2)
    t.fit()
    assert (run.samples_dir / "epoch_0001.png").is_file()
    ck = checkpoint.load(run.checkpoint_path)  # weights_only=True inside
    assert ck["epoch"] == 1 and ck["step"] == TINY_DATA // 16
    keys = {k for *_, k, _ in run.metrics()}
    assert {"img_s", "gflops", "mfu"} <= keys


def _weights(trainer):
    return {**({f"E.{k}": v for k, v in trainer.G_ema.state_dict().items()} if trainer.G_ema is not None else {}),
            **{f"G.{k}": v for k, v in trainer.G.state_dict().items()},
            **{f"D.{k}": v for k, v in trainer.D.state_dict().items()},
            **{f"P.{k}": v for k, v in trainer.prior.state_dict().items()}}


@pytest.mark.parametrize("variant,stop", [("wgan-gp", "epochs"), ("gm-dynamic", "epochs"),
                                          ("wgan-sn", "mid-epoch")])
def test_resume_gives_the_same_weights(variant, stop):
    """2 + 2 resumed epochs == 4 straight; the resumed half runs in a fresh process. The timeline
    recorder is on (it once shifted the global RNG when the resumed process built its classifier),
    and wgan-gp keeps a generator EMA, which resumes with the rest."""
    over = dict(n_critic=2, ema=0.9) if variant == "wgan-gp" else {}
    over.update(eval_every=1, eval_n=50)
    _, straight = new_run(variant, epochs=4, **over)
    straight.fit(epochs=4)
    run, first = new_run(variant, epochs=4, **over)
    if stop == "epochs":
        first.fit(epochs=2)
    else:
        first.fit(max_steps=13)  # stops inside epoch 2 of 8-step epochs
    first.run.close()
    res = subprocess.run([sys.executable, "-m", "core", "train", "--resume", run.id, "--epochs", "4", "--device",
                          "cpu", "--quiet", "--data-limit", str(TINY_DATA)]
                         + (["--max-steps", "0"] if stop == "mid-epoch" else []), cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    sd = checkpoint.load(run.checkpoint_path)
    resumed = {**{f"G.{k}": v for k, v in sd["G"].items()}, **{f"D.{k}": v for k, v in sd["D"].items()},
               **{f"P.{k}": v for k, v in sd["prior"].items()}}
    if "G_ema" in sd:
        resumed.update({f"E.{k}": v for k, v in sd["G_ema"].items()})
    a = _weights(straight)
    assert a.keys() == resumed.keys()
    bad = {k: float((a[k] - resumed[k]).abs().max()) for k in a if not torch.equal(a[k], resumed[k])}
    assert not bad, bad
    assert sd["step"] == straight.step == 32 and Run.open(run.id).status()["status"] == "done"


def test_resuming_a_live_run_is_refused():
    run, _ = new_run("vanilla")  # status running, pid = this process
    with pytest.raises(Exception, match="still training"):
        resume(run, device="cpu", progress=False, data_limit=TINY_DATA)


def test_nan_stops_the_run_as_failed_and_keeps_last_checkpoint(monkeypatch):
    run, t = new_run("wgan-gp", epochs=3, log_every=4)
    t.fit(epochs=1)
    good = checkpoint.load(run.checkpoint_path)
    real_loss = losses.critic_loss_from

    def poisoned(kind, r, f, y, lam=1.0):
        loss, stats = real_loss(kind, r, f, y, lam)
        return loss * float("nan"), stats
    monkeypatch.setattr(losses, "critic_loss_from", poisoned)
    with pytest.raises(TrainingFailed, match="loss_d"):
        t.fit(epochs=3)
    st = run.status()
    assert st["status"] == "failed" and "NaN" in st["reason"].replace("nan", "NaN")
    kept = checkpoint.load(run.checkpoint_path)
    assert kept["step"] == good["step"]
    assert all(torch.isfinite(v).all() for v in kept["G"].values())


SAVER = r"""
import sys, torch
sys.path.insert(0, sys.argv[2])
from core.store.checkpoint import save_atomic
i = 0
big = {"format": 1, "config": {}, "G": {"w": torch.randn(3_000_000)}}
while True:
    big["step"] = i
    save_atomic(big, sys.argv[1])
    i += 1
    print(i, flush=True)
"""


def test_checkpoint_survives_kill_mid_save(tmp_path):
    path = tmp_path / "ck.pt"
    for attempt in range(4):
        p = subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(ROOT)], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()  # at least one complete save
        time.sleep(0.05 + 0.07 * attempt)  # somewhere inside a later save
        p.send_signal(signal.SIGKILL)
        p.wait()
        ck = checkpoint.load(path)
        assert ck["G"]["w"].numel() == 3_000_000 and ck["step"] >= 0


def test_sigterm_checkpoints_and_marks_cancelled():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen([sys.executable, "-m", "core", "train", "--variant", "vanilla", "--epochs", "50",
                          "--batch-size", "16", "--set", "log_every=5", "--quiet", "--data-limit", "512"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    run_id = p.stdout.readline().strip()
    run = Run.open(run_id)
    deadline = time.time() + 60
    while not run.metrics(["loss_d"]) and time.time() < deadline:
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 3  # "stopped": the CLI says how to resume
    assert run.status()["status"] == "cancelled"
    assert checkpoint.load(run.checkpoint_path)["step"] > 0
    assert [r.id for r in list_runs()] == [run_id]


def test_fine_tuning_resumes_a_finished_run_with_new_learning_rates_and_records_it(capsys):
    """Seed 001: from a checkpoint, more epochs at reduced learning rates."""
    from core.cli import main
    from core.store.runs import Run
    from core.train import engine
    cfg = make_config("wgan-gp", {**TINY})
    run = Run.create(cfg)
    engine.Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA).fit()
    run.close()
    rc = main(["train", "--resume", run.id, "--epochs", "2", "--set", "lr_g=5e-4", "--set", "lr_d=1.5e-4",
               "--quiet", "--device", "cpu", "--data-limit", str(TINY_DATA)])
    assert rc == 0, capsys.readouterr().err
    r = Run.open(run.id)
    assert r.config()["lr_g"] == 5e-4 and r.config()["lr_d"] == 1.5e-4 and r.status()["status"] == "done"
    (change,) = r.history()
    assert change["step"] == 8 and change["epoch"] == 1
    assert change["changes"] == {"lr_g": [1e-3, 5e-4], "lr_d": [3e-4, 1.5e-4]}
    sd = torch.load(r.checkpoint_path, weights_only=True)
    assert sd["step"] == 16 and sd["config"]["lr_g"] == 5e-4
    assert sd["opt_g"]["param_groups"][0]["lr"] == 5e-4 and sd["opt_d"]["param_groups"][0]["lr"] == 1.5e-4
    # what would make it another model is refused, with one line, and nothing changes
    capsys.readouterr()
    rc = main(["train", "--resume", run.id, "--epochs", "3", "--set", "z_dim=50", "--quiet", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and "can change only" in err and "z_dim" in err and len(err.strip().splitlines()) == 1
    assert Run.open(run.id).config()["z_dim"] == 100 and len(Run.open(run.id).history()) == 1


def test_weight_clipping_runs_record_the_critics_weights_before_the_clamp_each_epoch():
    """Seed 001's Figure 3: per layer, where the weights sit before clipping, once per epoch."""
    from core.gan.losses import HIST_BINS
    cfg = make_config("wgan-wc", {**TINY, "epochs": 2, "clip": 0.01, "lr_d": 3e-3})
    run = Run.create(cfg)
    t = Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA)
    t.fit()
    run.close()
    rows = Run.open(run.id).weight_hists()
    assert [r["epoch"] for r in rows] == [1, 2] and all(r["c"] == 0.01 for r in rows)
    sizes = [lin.weight.numel() for lin in t.D.linear_layers()]
    for r in rows:
        assert [sum(r[f"l{i}"]) for i in range(len(sizes))] == sizes and len(r["l0"]) == HIST_BINS
    # bins span [−2c, 2c] (width c/10): bins 0–9 hold w < −c and bins 31+ hold w ≥ 1.1c, which
    # no clamped weight can be; an RMSprop step at lr 3e-3 pushes weights there before the clamp
    below = sum(sum(r[f"l{i}"][:HIST_BINS // 4]) for r in rows for i in range(len(sizes)))
    above = sum(sum(r[f"l{i}"][3 * HIST_BINS // 4 + 1:]) for r in rows for i in range(len(sizes)))
    assert below > 0 and above > 0
    assert max(float(lin.weight.abs().max()) for lin in t.D.linear_layers()) <= 0.01 + 1e-7
    assert Run.open(Run.create(make_config("wgan-gp", TINY)).id).weight_hists() == []  # only clipped critics


def test_a_step_limit_is_recorded_and_a_resume_honours_it():
    """`--max-steps` is part of the run's config (as data_limit is): a run cancelled before its
    limit and resumed without repeating it stops at the limit, not at its last epoch; the status
    says why it stopped; `--max-steps 0` lifts the limit."""
    from core.cli import main
    run, t = new_run("vanilla", epochs=4, log_every=2, ckpt_every=1)
    t.stop_requested = lambda: t.step >= 10  # a cancel at step 10 (checked at each log row)
    assert t.fit(max_steps=20) == "cancelled" and t.step == 10
    t.run.close()
    assert Run.open(run.id).config()["max_steps"] == 20
    resumed = resume(Run.open(run.id), device="cpu", progress=False, data_limit=TINY_DATA)
    assert resumed.fit() == "done" and resumed.step == 20  # not 4 epochs x 8 = 32 steps
    st = Run.open(run.id).status()
    assert st["total_steps"] == 20 and "max_steps 20" in st["reason"]
    resumed.run.close()
    assert main(["train", "--resume", run.id, "--max-steps", "0", "--device", "cpu", "--quiet"]) in (0, None)
    assert Run.open(run.id).status()["step"] == 32 and Run.open(run.id).config()["max_steps"] == 0
