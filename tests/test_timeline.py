"""The training timeline: one record per evaluated epoch with every key, whole after kill -9 and
resume; the fixed frame; the generator EMA's average; the timeline CLI."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from core.gan.variants import make_config
from core.store.registry import models_from_checkpoint
from core.store.runs import Run
from core.train import recorder, timeline
from core.train.engine import Trainer, ema_decay

from helpers import ROOT, TINY, TINY_DATA, run_cli

TL = {**TINY, "eval_every": 1, "eval_n": 100}


def train(variant="vanilla", epochs=3, **over):
    cfg = make_config(variant, {**TL, "epochs": epochs, **over})
    run = Run.create(cfg)
    t = Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA)
    assert t.fit() == "done"
    run.close()
    return run, t


def per_epoch_keys(run) -> dict:
    """{key: [epochs it was logged at]} of the timeline's rows in the metrics store."""
    out: dict = {}
    for _, epoch, _, key, _ in run.metrics(recorder.KEYS):
        out.setdefault(key, []).append(epoch)
    return out


def test_recorder_writes_one_row_per_evaluated_epoch_with_every_key():
    run, _ = train("cwgan-gp", epochs=3)
    keys = per_epoch_keys(run)
    assert sorted(keys) == sorted(recorder.KEYS)  # the EMA is on by default: the raw generator is scored too
    bare, _ = train("cwgan-gp", epochs=1, ema=0.0)
    assert sorted(per_epoch_keys(bare)) == sorted(k for k in recorder.KEYS if not k.startswith(recorder.RAW))
    assert all(v == [1.0, 2.0, 3.0] for v in keys.values())
    tl = timeline.load(run.id)
    assert tl.epochs == [1, 2, 3]
    for r in tl.rows:
        assert abs(sum(r["class_hist"]) - 1) < 1e-6 and r["n"] == 100 and r["cond_acc"] is not None
        assert r["fid"] > 0 and 0 <= r["coverage"] <= 1 and r["seconds"] > 0
    p = tl.points(2)
    assert p["xy"].shape == (100, 2) and np.isfinite(p["xy"]).all()
    assert set(p["comp"]) <= set(range(10)) and p["label"].max() < 10  # cwgan-gp: the requested classes
    assert tl.grid(3)[:8] == b"\x89PNG\r\n\x1a\n"
    # every eval_every-th epoch, and always the last
    run2, _ = train("vanilla", epochs=5, eval_every=2)
    assert timeline.load(run2.id).epochs == [2, 4, 5]


def test_the_record_is_made_on_fixed_noise_and_does_not_touch_training():
    """The recorder draws from its own generator: a run trained with it and one without end
    with the same weights, and two records of the same weights are identical."""
    _, with_tl = train("vanilla", epochs=2)
    cfg = make_config("vanilla", {**TINY, "epochs": 2})
    bare = Trainer(cfg, "cpu", progress=False, data_limit=TINY_DATA)
    bare.fit()
    for a, b in zip(with_tl.G.parameters(), bare.G.parameters()):
        assert torch.equal(a, b)
    rec = recorder.Recorder(with_tl.cfg, "cpu")
    z1, _ = rec.noise(with_tl.prior)
    z2, _ = rec.noise(with_tl.prior)
    assert torch.equal(z1, z2)


def test_timeline_stays_whole_after_kill_9_and_resume():
    """A record written after the last checkpoint is dropped with the rows after it on resume,
    then written again: no duplicate and no missing epoch."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ["--batch-size", "16", "--set", "log_every=5", "--set", "eval_n=100", "--set", "ckpt_every=2",
            "--data-limit", "320", "--quiet"]
    p = subprocess.Popen([sys.executable, "-m", "core", "train", "--variant", "vanilla", "--epochs", "40", *args],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    run = Run.open(p.stdout.readline().strip())
    deadline = time.time() + 120
    # kill once a record stands beyond the last checkpoint (odd epochs are not checkpointed)
    while time.time() < deadline:
        epochs = {int(e) for _, e, *_ in run.metrics(["tl_fid"])}
        ck = run.status().get("ckpt_step", 0)
        if len(epochs) >= 3 and max(epochs) % 2 == 1 and ck:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    before = {int(e) for _, e, *_ in run.metrics(["tl_fid"])}
    assert len(before) >= 3
    res = subprocess.run([sys.executable, "-m", "core", "train", "--resume", run.id, "--epochs", str(max(before) + 2),
                          "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    keys = per_epoch_keys(run)
    want = list(range(1, max(before) + 3))
    assert all(sorted(v) == [float(e) for e in want] for v in keys.values()), keys
    assert timeline.load(run.id).epochs == want


def test_the_frame_is_fixed_and_placement_is_deterministic(derived_cache):
    a = recorder.frame()
    for f in (derived_cache / "timeline").glob("frame_*.npz"):
        f.unlink()  # refitted from scratch
    b = recorder.frame()
    assert np.array_equal(a["idx"], b["idx"]) and np.allclose(a["xy"], b["xy"])
    # the frame's own digits land next to their own places: within 5% of the frame's extent (median)
    xy = recorder.place(a["features"], a)
    extent = np.linalg.norm(a["xy"].max(0) - a["xy"].min(0))
    assert np.median(np.linalg.norm(xy - a["xy"], axis=1)) < 0.05 * extent
    assert np.array_equal(xy, recorder.place(a["features"], a))
    # every record of a run carries the same real digits at the same places
    run, _ = train("vanilla", epochs=2)
    tl = timeline.load(run.id)
    assert np.allclose(tl.frame_xy, a["xy"]) and not np.array_equal(tl.points(1)["xy"], tl.points(2)["xy"])


def test_ema_weights_are_the_stated_average():
    """ema_t = d_t·ema_{t−1} + (1 − d_t)·θ_t after each generator update, d_t = min(decay, (1+t)/(10+t))."""
    cfg = make_config("wgan-gp", {**TINY, "n_critic": 2, "ema": 0.9, "g_hidden": "8", "d_hidden": "8"})
    t = Trainer(cfg, "cpu", progress=False, data_limit=TINY_DATA)
    expect = [p.detach().clone() for p in t.G.parameters()]
    for real, y in list(t.loader.batches())[:6]:
        before = t.g_updates
        t.train_step(real, y)
        if t.g_updates > before:
            d = ema_decay(0.9, t.g_updates)
            expect = [d * e + (1 - d) * p.detach() for e, p in zip(expect, t.G.parameters())]
    assert t.g_updates == 3 and ema_decay(0.9, 1) == pytest.approx(2 / 11) and ema_decay(0.9, 1000) == 0.9
    for e, p in zip(expect, t.G_ema.parameters()):
        assert torch.allclose(e, p, atol=1e-6)
        assert p.is_leaf and not p.requires_grad and p.grad_fn is None  # the average keeps no autograd graph
    assert not all(torch.equal(a, b) for a, b in zip(t.G.parameters(), t.G_ema.parameters()))
    # the checkpoint keeps both; what is loaded for sampling is the EMA
    sd = t.state_dict()
    G = models_from_checkpoint(sd).G
    for a, b in zip(G.parameters(), t.G_ema.parameters()):
        assert torch.equal(a, b)


def test_ema_run_records_the_raw_generator_too_and_resumes_its_average():
    run, t = train("vanilla", epochs=2, ema=0.99)
    rows = timeline.load(run.id).rows
    assert all(r["raw"]["fid"] > 0 and r["raw"]["fid"] != r["fid"] for r in rows)
    from core.eval.score import score_model
    ema, raw = (score_model(run.id, n=200, use_cache=False, raw=r) for r in (False, True))
    assert raw["generator"] == "raw" and raw["fid"] != ema["fid"]  # `score RUN --raw`: the live generator
    with pytest.raises(Exception, match="keeps no generator EMA"):
        score_model("vanilla", n=200, raw=True)
    from core.train.resume import resume
    t2 = resume(Run.open(run.id), device="cpu", progress=False)
    for a, b in zip(t2.G_ema.parameters(), t.G_ema.parameters()):
        assert torch.equal(a, b)
    assert t2.g_updates == t.g_updates
    t2.run.close()


def test_timeline_cli_and_gif(tmp_path, cli):
    run, _ = train("vanilla", epochs=2)
    res = cli("timeline", run.id, "--json", "--gif", str(tmp_path / "t.gif"))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert [r["epoch"] for r in out["rows"]] == [1, 2]
    assert set(out["summary"]["first_epoch_over_5pct"]) == set(map(str, range(10)))
    from PIL import Image
    gif = Image.open(tmp_path / "t.gif")
    assert gif.format == "GIF" and gif.n_frames == 2
    text = cli("timeline", run.id)
    assert text.returncode == 0 and "classes first above 5%" in text.stdout and "recorder cost" in text.stdout
    assert run.id in cli("timeline", "--list").stdout
    bad = run_cli("timeline", "no-such-run")  # the real process: one line, no traceback
    assert bad.returncode == 2 and "no-such-run" in bad.stderr and "Traceback" not in bad.stderr
    assert make_config("vanilla")["eval_every"] == 1  # on by default


def test_shipped_zoo_timelines_load():
    names = [n for n in timeline.available() if (ROOT / "trained" / n).is_dir()]
    assert {"vanilla", "gm-dynamic"} <= set(names)
    for name in names:
        tl = timeline.load(name)
        assert tl.epochs == list(range(1, len(tl.epochs) + 1))  # every epoch of its training
        assert tl.grid(tl.epochs[-1]) and tl.points(tl.epochs[-1])["xy"].shape[1] == 2
        assert sorted(tl._grids) == timeline.shipped_grid_epochs(tl.epochs), name  # within the tree's budget


def test_a_shipped_timeline_keeps_the_first_ten_grids_then_every_fifth(tmp_path):
    assert timeline.shipped_grid_epochs(list(range(1, 24))) == [*range(1, 11), 20, 23]
    assert timeline.shipped_grid_epochs([2, 4, 6]) == [2, 4, 6]
    grids = {f"grid_{e:04d}": np.full(200 + e, e, dtype=np.uint8) for e in range(1, 13)}
    path = tmp_path / "timeline.npz"
    recorder.write_npz(path, epochs=np.arange(1, 13, dtype=np.int32), **grids)
    assert timeline.thin_grids(path) > 0 and timeline.thin_grids(path) == 0  # once thin, left alone
    with np.load(path) as f:
        assert sorted(k for k in f.files if k.startswith("grid_")) == [f"grid_{e:04d}" for e in [*range(1, 11), 12]]
        assert (f["grid_0012"] == 12).all() and f["epochs"].tolist() == list(range(1, 13))
    tl = timeline.Timeline("t", [], np.zeros((0, 2)), np.zeros(0), {}, {1: b"one", 5: b"five", 9: None})
    assert tl.nearest_grid(4) == (1, b"one") and tl.nearest_grid(9) == (5, b"five") and tl.nearest_grid(0) is None


def test_playback_follows_the_clock_not_the_redraws():
    from core.train.timeline import playback_epoch
    epochs = [1, 2, 3, 5, 10]
    assert playback_epoch(epochs, 2, 0.0) == 2 and playback_epoch(epochs, 2, 0.99) == 2
    assert playback_epoch(epochs, 2, 1.0) == 3 and playback_epoch(epochs, 2, 2.5) == 5
    assert playback_epoch(epochs, 10, 1.2) == 1  # wraps after the last record
    assert playback_epoch(epochs, 2, 3.0, per_s=2.0) == 3  # six records on: wraps to the start's
