"""The core logic behind the dashboard pages: model list, class report, GMM edits, launching."""
import numpy as np
import pytest
import torch

from core.dashboard import catalog as core_models
from core.dashboard import launch
from core.dashboard import mixture_editor as gmm
from core.errors import ConfigError, RunError
from core.gan.variants import make_config
from core.store.runs import Run


def test_list_models_has_zoo_runs_and_reports_unreadable(runs_dir):
    run = Run.create(make_config("hinge"))
    run.set_status("done")
    bad = runs_dir / "20260101-000000-x-dead"
    bad.mkdir(parents=True)
    (bad / "config.json").write_text("{")
    rows = {r["name"]: r for r in core_models.list_models()}
    assert rows["wgan-gp"]["source"] == "zoo" and rows["wgan-gp"]["scores"]["fid"] > 0
    from core.eval.score_files import cached_scores
    shipped = cached_scores("wgan-gp")  # trained/wgan-gp/scores.json, under this checkpoint's and classifier's key
    assert rows["wgan-gp"]["scores"]["class_hist"] == shipped["class_hist"]  # Compare needs no classifying
    assert rows[bad.name]["status"] == "unreadable" and rows[bad.name]["reason"]
    run_row = rows[run.id]
    assert run_row["source"] == "run" and run_row["variant"] == "hinge" and run_row["scores"] is None
    assert rows["hinge"]["source"] == "zoo"  # the zoo model of the same variant is a separate row
    usable = core_models.usable(list(rows.values()))
    assert "wgan-gp" in usable and bad.name not in usable and run_row["name"] not in usable  # no checkpoint
    table = core_models.leaderboard_rows(list(rows.values()), {"fid": 0.02})
    assert table[0]["model"] == "real data (floor)" and table[0]["fid"] == 0.02


def test_the_leaderboard_shows_the_epochs_a_run_reached():
    """A run configured for 30 epochs but cancelled in epoch 3 shows 2, not 30."""
    run = Run.create(make_config("hinge", {"epochs": 30}))
    run.set_status("cancelled", step=250, epoch=2)
    row = next(r for r in core_models.list_models() if r["name"] == run.id)
    assert row["epochs"] == 2 and row["epochs_planned"] == 30
    table = core_models.leaderboard_rows([row], None)
    assert table[0]["epochs"] == 2


def test_the_leaderboard_ranks_every_model_by_fid_whatever_its_source():
    """A new run or an imported model takes its place by FID among the zoo (list_models lists them
    after it); the floor stays first and the models not scored yet come last, in their order."""
    def row(name, source, fid):
        return {"name": name, "source": source, "status": "done", "scores": None if fid is None else {"fid": fid}}
    rows = [row("zoo-a", "zoo", 1.0), row("zoo-b", "zoo", 3.0), row("mine", "imported", 2.0),
            row("run-new", "run", None), row("run-best", "run", 0.5), row("run-old", "run", None)]
    table = core_models.leaderboard_rows(rows, {"fid": 0.02}, ranked=True)
    assert [r["model"] for r in table] == ["real data (floor)", "run-best", "zoo-a", "mine", "zoo-b", "run-new",
                                           "run-old"]
    assert [r["model"] for r in core_models.leaderboard_rows(rows, None, ranked=True)][:2] == ["run-best", "zoo-a"]
    # Compare lists the models in the order the user chose them (its charts' colours follow that order)
    assert [r["model"] for r in core_models.leaderboard_rows(rows, None)] == [r["name"] for r in rows]


def test_class_report_orders_hybrids_and_classes():
    from core.store.mnist import load_split, to_model_range
    x, y = load_split("test")
    imgs = to_model_range(x[:300])
    rep = core_models.class_report(imgs, threshold=0.9, hybrids=10)  # confidences top out near 0.95
    conf = rep["confidence"]
    assert (rep["labels"] == y[:300]).mean() > 0.97
    assert conf[rep["hybrids"]].max() <= np.sort(conf)[10] + 1e-9  # the 10 least confident
    for c, idx in rep["by_class"].items():
        assert (rep["labels"][idx] == c).all() and (np.diff(conf[idx]) <= 1e-9).all()
    assert rep["hist"].sum() == pytest.approx(1) and rep["hist_confident"].sum() == pytest.approx(1)
    assert 0 < rep["confident_fraction"] < 1


def test_a_threshold_change_reuses_the_classification(monkeypatch):
    """The Classes page classifies once; the threshold only re-summarises (no classifier call)."""
    from core.eval import classifier
    from core.store.mnist import load_split, to_model_range
    imgs = to_model_range(load_split("test")[0][:200])
    cls = core_models.classify(imgs)
    monkeypatch.setattr(classifier, "predict", lambda *a, **k: pytest.fail("re-classified on a threshold change"))
    low, high = core_models.class_summary(cls, 0.5), core_models.class_summary(cls, 0.95)
    assert low["confident_fraction"] == pytest.approx((cls["confidence"] >= 0.5).mean())
    assert high["confident_fraction"] < low["confident_fraction"] and (low["hist"] == high["hist"]).all()


def test_gmm_plane_move_and_edit_leave_the_model_untouched():
    prior = core_models.loaded("cwgan-gp").prior
    before = prior.means.detach().clone()
    plane = gmm.means_plane(prior.means)
    assert plane["xy"].shape == (10, 2)
    target = plane["xy"][2] + np.array([1.5, -0.5])
    moved = gmm.move_mean(prior.means, plane, 2, target)
    changed = (moved - before).norm(dim=1)
    assert changed[2] > 0 and torch.all(changed[[0, 1, 3, 4, 5, 6, 7, 8, 9]] == 0)
    new_xy = (moved[2].double() - torch.from_numpy(plane["centre"])) @ torch.from_numpy(plane["basis"]).T
    assert np.allclose(new_xy.numpy(), target, atol=1e-4)  # it lands where it was dropped
    p = gmm.edited(prior, means=moved, sigmas=torch.full((10,), 0.5))
    assert torch.equal(prior.means.detach(), before)  # the model's prior is not modified
    assert torch.allclose(p.sigmas(), torch.full((10,), 0.5))
    with pytest.raises(ConfigError, match="positive"):
        gmm.edited(prior, sigmas=torch.zeros(10))
    with pytest.raises(ConfigError, match="does not exist"):
        gmm.move_mean(prior.means, plane, 12, [0, 0])


def test_gmm_component_view_follows_the_edit():
    m = core_models.loaded("cwgan-gp")
    G, prior = m.G, m.prior
    plane = gmm.means_plane(prior.means)
    a = gmm.component_view(G, prior, 4, n=32)
    again = gmm.component_view(G, prior, 4, n=32)
    assert torch.equal(a["images"], again["images"])  # same ε for the same seed
    far = gmm.move_mean(prior.means, plane, 4, plane["xy"][4] + 30)
    b = gmm.component_view(G, gmm.edited(prior, means=far), 4, n=32)
    assert (a["images"] - b["images"]).abs().mean() > 0.05
    hist = gmm.mixture_histogram({4: a, 5: gmm.component_view(G, prior, 5, n=32)})
    assert hist.sum() == pytest.approx(1) and hist.shape == (10,)


def test_gmm_editor_refuses_a_gaussian_prior():
    prior = core_models.loaded("wgan-gp").prior
    with pytest.raises(ConfigError, match="mixture"):
        gmm.edited(prior)


def test_launch_refuses_a_second_training_on_the_device():
    run = Run.create(make_config("wgan-gp"))  # 'running' with this (alive) process as its pid
    run.set_status("running", pid=__import__("os").getpid(), device="cpu")
    assert [r.id for r in launch.active_runs("cpu")] == [run.id]
    with pytest.raises(RunError, match="already training"):
        launch.start("vanilla", device="cpu")
    with pytest.raises(RunError, match="still training"):
        launch.resume(run.id, device="cpu")


def test_launch_validates_before_spawning():
    with pytest.raises(ConfigError, match="unknown hyper-parameter"):
        launch.start("wgan-gp", {"lr": 1e-3}, device="cpu")
    with pytest.raises(ConfigError, match="n_critic"):
        launch.start("wgan-gp", {"n_critic": 0}, device="cpu")


def test_variant_knobs_are_the_ones_it_uses():
    from core.gan.variants import get_variant
    assert "gp_lambda" in get_variant("wgan-gp").knobs() and "clip" not in get_variant("wgan-gp").knobs()
    assert "clip" in get_variant("wgan-wc").knobs() and "gp_lambda" not in get_variant("wgan-wc").knobs()
    assert "san_lambda" in get_variant("san").knobs() and "prior_k" not in get_variant("san").knobs()
    assert {"prior_k", "prior_sigma"} <= set(get_variant("gm-static").knobs())
    assert "lr_prior" in get_variant("gm-dynamic").knobs() and "lr_prior" not in get_variant("gm-static").knobs()


def test_variant_titles_are_whole_phrases():
    """The Train menu once cut "… β (0.5, 0.9)" at its first '.'; titles end at a ';' instead."""
    from core.gan.variants import VARIANTS
    for v in VARIANTS.values():
        assert v.title and len(v.title) <= 70 and not v.title.endswith(("(0", "β (0", ".")), v.title
        assert "(seed" not in v.title
    assert VARIANTS["wgan-wc"].title == "WGAN — critic weights clamped to ±c after every critic step"


def test_a_component_reading_lists_only_digits_it_makes():
    assert gmm.reads_as([3, 3, 3, 5, 8, 8]) == [(3, 3), (8, 2), (5, 1)]
    assert gmm.reads_as([7] * 64) == [(7, 64)]  # never "7 0 1" with zero counts


def test_drag_scale_is_sigma_sqrt_d():
    prior = core_models.loaded("gm-dynamic").prior
    d = prior.means.shape[1]
    assert gmm.drag_scale(prior, 2) == pytest.approx(float(prior.sigmas().detach()[2]) * d ** 0.5)


def test_smoothing_is_tensorboards_debiased_ema():
    assert core_models.smooth([1.0, 3.0], 0.0) == [1.0, 3.0]
    s = core_models.smooth([2.0, 2.0, 2.0], 0.9)
    assert s == pytest.approx([2.0, 2.0, 2.0])  # debiased: a constant stays constant from the first point
    assert core_models.smooth([0.0, 10.0], 0.5) == pytest.approx([0.0, (0.5 * 0 * 0.5 + 5.0) / 0.75])


def test_eta_is_the_average_pace_times_the_steps_left():
    assert core_models.eta_seconds({"status": "running", "step": 100, "total_steps": 400, "train_seconds": 50}) == 150
    assert core_models.eta_seconds({"status": "done", "step": 400, "total_steps": 400, "train_seconds": 200}) is None
    assert core_models.eta_seconds({"status": "running", "step": 0, "total_steps": 400}) is None


def test_a_running_run_says_what_it_is_doing_before_its_first_curve():
    """Status rows carry the trainer's phase (its start, the first steps, an epoch's end); the
    phase goes once the run has ended."""
    from core.train.engine import Trainer

    from helpers import TINY, TINY_DATA
    cfg = make_config("vanilla", {**TINY, "log_every": 4})
    run = Run.create(cfg)
    seen = []
    orig = run.set_status

    def spy(status, **fields):
        orig(status, **fields)
        seen.append(run.status().get("phase"))
    run.set_status = spy
    Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA).fit()
    assert "measuring this machine's matmul peak (once per process)" in seen
    assert "training: the first curves come after 4 steps" in seen
    assert "end of epoch 1: sample grid, timeline record, checkpoint" in seen
    assert run.status()["status"] == "done" and "phase" not in run.status()
    note = core_models.progress_note({"phase": "training", "created": 100.0}, now=130.0)
    assert note == "Training · started 30 s ago"
    assert core_models.progress_note({"created": 100.0}, now=101.0).startswith("Starting: loading torch")


def test_a_detached_process_that_ends_is_reaped_not_left_a_zombie(tmp_path):
    """A training or sweep driver launched from the app is the server's child: when it ends
    while the server lives, it is waited for (no <defunct> process per launch)."""
    import os
    import time as _time
    proc = launch._detached(["variants", "--json"], tmp_path / "log")
    deadline = _time.time() + 60
    while os.path.exists(f"/proc/{proc.pid}") and _time.time() < deadline:
        _time.sleep(0.2)
    assert not os.path.exists(f"/proc/{proc.pid}"), "the ended process is still in the process table (a zombie)"
    assert proc.returncode == 0


def test_config_diff_keeps_only_the_knobs_that_differ():
    a = make_config("wgan-gp")
    b = make_config("wgan-gp", {"lr_g": 1e-4, "batch_size": 32})
    rows = core_models.config_diff({"a": a, "b": b, "c": {k: v for k, v in a.items() if k != "ema"}})
    assert {r["knob"] for r in rows} == {"lr_g", "batch_size", "ema"}
    ema = next(r for r in rows if r["knob"] == "ema")
    assert ema["a"] == a["ema"] and ema["c"] is None
    assert core_models.config_diff({"a": a, "b": dict(a)}) == []


def test_why_a_model_has_no_timeline():
    assert core_models.no_timeline_reason({"source": "imported"}) == "no timeline: imported (trained elsewhere)"
    assert "eval_every 0" in core_models.no_timeline_reason({"source": "run", "epochs": 3}, {"eval_every": 0})
    assert "before the recorder" in core_models.no_timeline_reason({"source": "zoo"}, {"eval_every": 1})


def test_the_server_allocator_returns_a_freed_peak_to_the_os():
    """A page's transient 300 MB (2 MB buffers, as a classifier batch's activations, between small
    objects that stay) is kept by glibc's defaults for good — the server grew to 1.9 GB — and
    given back by either lean_server_allocator (set once) or trim_heap (after each run)."""
    import subprocess
    import sys

    from helpers import ROOT
    code = """
import os, sys
from core.heap import lean_server_allocator, trim_heap
def rss():
    return int(next(l for l in open(f"/proc/{os.getpid()}/status") if l.startswith("VmRSS")).split()[1]) // 1024
if "lean" in sys.argv:
    assert lean_server_allocator()
before = rss()
for _ in range(3):
    bufs = [bytearray(2 << 20) for _ in range(150)]
    keep = [bytearray(1000) for _ in range(2000)]
    del bufs
if "trim" in sys.argv:
    assert trim_heap()
print(rss() - before)
"""

    def kept(*modes):
        return int(subprocess.run([sys.executable, "-c", code, *modes], cwd=ROOT, capture_output=True, text=True,
                                  check=True, timeout=120).stdout.strip())
    assert kept() > 200  # the defaults keep the peak (what the two calls are for)
    assert kept("lean") < 50 and kept("trim") < 50


# ---- the pages' logic (core/dashboard/training.py, epoch_view.py; mixture models) ------------------
def test_mixture_models_are_found_by_their_variants_prior_not_their_name():
    from core.gan.variants import VARIANTS
    assert set(core_models.mixture_variants()) == {n for n, v in VARIANTS.items() if v.prior != "gaussian"}
    assert {"gm-static", "gm-dynamic", "cwgan-gp"} <= set(core_models.mixture_variants())
    assert "wgan-gp" not in core_models.mixture_variants()
    rows = [{"name": "my-run", "variant": "gm-static"},  # a run: named by its id, not its variant
            {"name": "gm-lookalike", "variant": "wgan-gp"},  # named like a mixture, a Gaussian prior
            {"name": "course", "variant": None}]  # an imported model of no variant
    usable = ["my-run", "gm-lookalike", "course", "cwgan-gp"]
    assert core_models.mixture_models(rows + [{"name": "cwgan-gp", "variant": "cwgan-gp"}], usable) == [
        "my-run", "cwgan-gp"]


def test_the_train_form_offers_the_variants_knobs_and_sends_only_changes():
    from core.dashboard import training
    from core.gan.variants import ARCHITECTURE, HOUSEKEEPING
    knobs = training.form_knobs("wgan-wc")
    assert "clip" in knobs and "gp_lambda" not in knobs  # the knobs it uses, no others
    assert not set(knobs) & set(HOUSEKEEPING + ARCHITECTURE)
    today = make_config("wgan-wc")
    values = {k: today[k] for k in knobs} | {"clip": 0.02}
    assert training.launch_overrides(values, today) == {"clip": 0.02}
    assert training.launch_overrides(values, today, minutes=1.5) == {"clip": 0.02, "max_seconds": 90.0}
    assert training.float_step(0.001) == pytest.approx(0.0001) and training.float_step(0) == 0.01


def test_a_runs_config_shows_what_it_changed_from_its_variants_defaults():
    from core.dashboard import training
    assert training.changed_from_defaults(make_config("wgan-gp")) == {}
    cfg = make_config("wgan-gp", {"lr_g": 7e-4, "batch_size": 32})
    assert training.changed_from_defaults(cfg) == {"lr_g": 7e-4, "batch_size": 32}
    assert training.changed_from_defaults({**cfg, "not_a_knob": 1}) == {"lr_g": 7e-4, "batch_size": 32}


def test_the_progress_line_fine_tune_and_history_of_a_run():
    from core.dashboard import training
    status = {"status": "running", "step": 100, "total_steps": 200, "epoch": 1, "train_seconds": 50}
    cfg = {"variant": "wgan-gp", "epochs": 4, "lr_g": 1e-4, "lr_d": 1e-4}
    assert training.progress_text(status, cfg) == "wgan-gp · running · step 100/200 · epoch 1/4 · 50 s · ~50 s left"
    assert training.eta_text({**status, "total_steps": 460}) == " · ~3 min left"  # 180 s: in minutes
    assert training.progress_fraction(status) == 0.5 and training.progress_fraction({}) == 0.0
    assert training.progress_text({"status": "done", "step": 400, "total_steps": 400, "epoch": 4,
                                   "train_seconds": 200}, cfg).endswith("· 200 s")  # no time left once done
    assert training.fine_tune_changes(cfg, 5e-5, 6e-5) == {"lr_g": 5e-5, "lr_d": 6e-5}
    assert training.fine_tune_changes({**cfg, "max_steps": 300}, 5e-5, 6e-5)["max_steps"] == 0  # no step limit
    lines = training.history_lines([{"step": 8, "epoch": 1, "changes": {"lr_g": [5e-5, 2.5e-5], "optimizer":
                                                                        ["adam", "rmsprop"]}}])
    assert lines == ["At step 8 (epoch 1): lr_g 5e-05 → 2.5e-05, optimizer adam → rmsprop"]
    assert set(training.RESUMABLE) == {"cancelled", "failed"}


def test_the_weight_histogram_bins_span_plus_minus_two_c_where_the_critic_counts_them():
    from core.dashboard import training
    from core.gan import losses
    from core.store.registry import build_models
    c = 0.01
    _, D, _ = build_models(make_config("wgan-wc"))
    with torch.no_grad():
        for i, lin in enumerate(D.linear_layers()):
            lin.weight.fill_(0.5 * c if i == 0 else -3 * c)  # layer 0 inside ±c, the others beyond -2c
    record = {"epoch": 1, "c": c, **losses.weight_histograms(D, c, bins=8)}
    chart = training.weight_hist_chart(record)
    assert chart["c"] == c and len(chart["centres"]) == 8
    assert chart["centres"][0] == pytest.approx(-1.75 * c) and chart["centres"][-1] == pytest.approx(1.75 * c)
    assert list(chart["layers"]) == list(range(len(D.linear_layers())))
    for layer, fractions in chart["layers"].items():
        assert sum(fractions) == pytest.approx(1.0)
        at = chart["centres"][max(range(8), key=fractions.__getitem__)]
        assert at == pytest.approx(0.75 * c if layer == 0 else -1.75 * c)  # the bin holding 0.5c; the end bin


def test_an_epoch_of_a_timeline_as_the_timeline_page_shows_it():
    from core.dashboard import epoch_view
    from core.eval.names import METRICS, PRDC
    from core.train import timeline
    tl = timeline.load("vanilla")
    row = tl.rows[4]
    assert list(epoch_view.epoch_scores(row)) == list(METRICS) and epoch_view.epoch_scores(row)["fid"] == row["fid"]
    points, why = epoch_view.map_points(tl, tl.epochs[-1])
    assert why is None and points["xy"].shape == (len(points["label"]), 2)
    points, why = epoch_view.map_points(tl, 10_000)  # no record, no map: said, not raised
    assert points is None and "no map for epoch 10000" in why
    xr, yr = epoch_view.map_ranges(tl.frame_xy)
    assert xr[0] < tl.frame_xy[:, 0].min() and xr[1] > tl.frame_xy[:, 0].max() and yr[0] < tl.frame_xy[:, 1].min()
    assert epoch_view.epoch_axis([1, 2, 3]) == [0, 4] and epoch_view.epoch_axis([1, 101]) == [-2, 104]
    so_far = epoch_view.curve_so_far(tl.rows, "fid", 5)
    assert [e for e, _ in so_far["ema"]] == [1, 2, 3, 4, 5] and so_far["raw"] == []  # trained without an EMA
    raw = epoch_view.curve_so_far([{"epoch": 1, "fid": 3.0, "raw": {"fid": 4.0}}, {"epoch": 2, "fid": None}], "fid", 9)
    assert raw == {"ema": [(1, 3.0)], "raw": [(1, 4.0)]}
    table = epoch_view.record_table(tl.rows)
    assert len(table) == len(tl.rows) and list(table[0]) == ["epoch", "fid", *PRDC, "class_kl", "confidence",
                                                            "cond_acc", "seconds"]
