"""Every dashboard page renders with the shipped zoo and its main controls work (AppTest runs
the scripts headless; components' JavaScript does not run, their values are fed through
session state)."""
import json
import time

import pytest
import torch

from core.eval.names import METRICS
from core.gan.variants import make_config
from core.store.runs import Run

from helpers import page, texts, trained_run


def test_overview_leaderboard_floor_first_and_zoo_models():
    Run.create(make_config("wgan-gp")).set_status("done")
    at = page("views/overview.py")
    board = at.dataframe[0].value
    assert board["model"].iloc[0] == "real data (floor)"
    assert {"wgan-gp", "vanilla", "cwgan-gp"} <= set(board["model"])
    assert board.set_index("model").loc["wgan-gp", "fid"] > board["fid"].iloc[0]  # a model is worse than the floor
    assert len(at.get("imgs")) >= 3 or len(at.get("image")) >= 3


def test_overview_reports_a_corrupt_run_and_keeps_working(runs_dir):
    bad = runs_dir / "20260101-000000-wgan-gp-dead"
    bad.mkdir(parents=True)
    (bad / "config.json").write_text("{not json")
    at = page("views/overview.py")
    assert any("could not be read" in w.value for w in at.warning)
    assert "wgan-gp" in set(at.dataframe[0].value["model"])


def test_overview_click_through_selects_the_model():
    at = page("views/overview.py")
    at.button(key="cls_vanilla").click().run()
    assert not at.exception
    assert at.session_state["model"] == "vanilla"


def test_train_launch_and_cancel_a_tiny_run(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    at = page("views/train.py")
    assert any("No runs yet" in i.value for i in at.info)
    at.selectbox(key="train_variant").set_value("wgan-gp").run()
    at.number_input(key="hp_wgan-gp_batch_size").set_value(16)
    at.number_input(key="hp_max_steps").set_value(100000)
    at.toggle(key="hp_track").set_value(True)  # = train --track mlflow (the run store's local database here)
    at.button[[b.label for b in at.button].index("Launch")].click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Started" in s.value for s in at.success), texts(at)
    run_id = at.session_state["train_run"]
    run = Run.open(run_id)
    assert run.config()["batch_size"] == 16
    assert "--track" in run.argv() and "mlflow" in json.loads((run.path / "tracking.json").read_text())
    # a second launch on the same device is refused clearly
    at.button[[b.label for b in at.button].index("Launch")].click().run()
    assert any("already training" in e.value for e in at.error)
    assert not any("already training" in e.value for e in at.expander[0].error)  # shown above, not in the section
    deadline = time.time() + 60
    while run.status().get("status") == "running" and not run.status().get("device") and time.time() < deadline:
        time.sleep(0.5)
    at.run()
    assert any(" s ago" in c.value for c in at.caption), texts(at)  # what it is doing, before any curve
    at.button(key=f"cancel_{run_id}").click().run()
    assert not at.exception
    assert run.status()["status"] == "cancelled"
    assert not any("Started" in s.value for s in at.success)  # the launch banner went with the run
    assert not at.expander[0].proto.expanded  # the cancelled run stays in view, the form stays shut
    assert at.selectbox(key="train_variant").value == "wgan-gp"  # the form keeps the user's values
    assert at.number_input(key="hp_wgan-gp_batch_size").value == 16


def test_compare_two_models_same_noise(monkeypatch):
    from core.dashboard import catalog as core_models
    classified = []
    real_classify = core_models.classify
    monkeypatch.setattr(core_models, "classify", lambda x: (classified.append(len(x)), real_classify(x))[1])
    at = page("views/compare.py", model="wgan-gp")
    assert classified == []  # the zoo models' class histograms are the shipped ones (10k digits), not recomputed
    assert at.multiselect(key="compare_models").value[:2] == ["wgan-gp", "vanilla"]
    assert len(at.get("imgs")) + len(at.get("image")) >= 2
    table = at.dataframe[0].value
    assert list(table["model"])[:3] == ["real data (floor)", "wgan-gp", "vanilla"]
    at.radio(key="compare_metric").set_value("precision").run()
    at.number_input(key="compare_seed").set_value(3).run()
    assert not at.exception


def test_latent_map_pca_of_features():
    at = page("views/latent_map.py", model="wgan-gp")
    at.radio(key="map_method").set_value("pca")
    at.select_slider(key="map_n").set_value(500).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.metric[0].value == "500"
    assert "PCA keeps" in texts(at)  # explained variance of the two axes
    key = "map_wgan-gp_pca_features_500_0_0_None_0-1-2-3-4-5-6-7-8-9"
    at.session_state[key] = {"selected": [10, 480, 499], "seq": 1}  # a lasso on this map
    at.run()
    assert not at.exception and any("Selected: 3 digits" in m.value for m in at.subheader)
    assert any(c.value.startswith("generated: 3 digits, mean confidence") for c in at.caption)
    assert at.button(key="map_selection_to_directions").label.startswith("Edit digit #10 (the first selected)")
    at.selectbox(key="map_search_by").set_value("digit index").run()
    at.number_input(key="map_search_index").set_value(7).run()
    assert not at.exception and any("digit #7 (read as" in c.value and "8 nearest" in c.value for c in at.caption)
    at.selectbox(key="map_search_by").set_value("class read").run()
    at.selectbox(key="map_search_class").set_value(3).run()
    assert not at.exception and any("digits are read as 3, ringed on the map" in c.value for c in at.caption)
    at.multiselect(key="map_filter").set_value([1]).run()  # only the digits read as 1
    assert not at.exception
    at.select_slider(key="map_real").set_value(500)
    at.radio(key="map_colour").set_value("real vs generated").run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}  # the two populations are never mixed in one number
    assert shown["generated digits"] == "500" and shown["real digits"] == "500"
    assert "mean confidence (real)" in shown and "mean confidence (generated)" in shown
    at.radio(key="map_space").set_value("latent").run()  # another map: the old selection does not apply
    assert not at.exception


def test_classes_threshold_and_digit():
    at = page("views/classes.py", model="cwgan-gp")
    at.select_slider(key="classes_n").set_value(500).run()
    first = at.metric[1].value
    at.slider(key="classes_threshold").set_value(0.99).run()
    assert not at.exception
    assert float(at.metric[1].value.rstrip("%")) <= float(first.rstrip("%"))
    at.segmented_control(key="classes_digit").set_value(7).run()
    assert not at.exception


def test_classes_of_a_conditional_model_can_be_asked_at_mnist_frequencies():
    import numpy as np
    at = page("views/classes.py", model="cwgan-gp")
    at.select_slider(key="classes_n").set_value(2000).run()
    def model_hist():  # the chart's "all digits" bars
        import base64
        import json
        y = next(t["y"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if "all digits" in t["name"])
        # plotly ships arrays as base64 with their dtype
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else np.array(y)

    uniform = model_hist()
    at.radio(key="classes_weights").set_value("mnist").run()
    assert not at.exception
    mnist = model_hist()  # other classes asked for: another histogram (which classes: test_models)
    assert mnist.shape == (10,) and abs(mnist - uniform).sum() > 0.01, (uniform, mnist)
    at.button(key="classes_score").click().run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["classes"]) == ["uniform", "mnist"] and df["fid"].notna().all()


def test_classes_page_offers_class_weights_only_for_conditional_models():
    at = page("views/classes.py", model="wgan-gp")
    assert not [r for r in at.radio if r.key == "classes_weights"]


def test_gmm_editor_drag_moves_a_mean_and_regenerates():
    at = page("views/gmm_editor.py", model="cwgan-gp")
    assert "nothing yet" in texts(at)
    state = at.session_state["gmm_cwgan-gp"]
    x, y = state["xy"][3]
    at.session_state["drag_cwgan-gp"] = {"index": 3, "x": float(x) + 0.5, "y": float(y), "seq": 1,
                                         "points": state["xy"].tolist()}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert "component 3 by" in texts(at)
    assert at.session_state["gmm_cwgan-gp"]["selected"] == 3
    at.slider(key="gmm_sigma_cwgan-gp_3").set_value(2.0).run()
    assert not at.exception
    assert float(at.session_state["gmm_cwgan-gp"]["sigmas"][3]) == pytest.approx(2.0)
    at.button(key="gmm_reset_cwgan-gp").click().run()  # reset must not replay the last drag or keep σ
    assert not at.exception
    assert "nothing yet" in texts(at)
    assert float(at.session_state["gmm_cwgan-gp"]["sigmas"][3]) != pytest.approx(2.0)


@pytest.mark.parametrize("method", ["drs", "dot-latent"])
def test_refine_before_after(method):
    at = page("views/refine.py", model="wgan-gp")
    at.radio(key="refine_method").set_value(method).run()
    at.select_slider(key="refine_n").set_value(500)
    if method == "dot-latent":
        at.slider(key="refine_steps").set_value(3)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [m.label for m in at.metric] == list(METRICS)
    floor = at.dataframe[0].value.iloc[0]
    assert floor.iloc[0] == "real-data floor (500 digits)"  # at the same n as the scores beside it
    from core.eval.score import score_real
    assert floor["coverage"] == pytest.approx(score_real(n=500)["coverage"], abs=1e-3)


def test_interpolate_classes_and_slider():
    at = page("views/interpolate.py", model="cwgan-gp")
    at.selectbox(key="ip_From_kind").set_value("class").run()
    at.selectbox(key="ip_To_kind").set_value("class").run()
    at.selectbox(key="ip_To_class").set_value(8).run()
    assert not at.exception
    at.slider(key="ip_t").set_value(5).run()
    assert not at.exception
    assert "class 0" in texts(at) and "class 8" in texts(at)


def test_interpolate_shows_an_inverted_real_digit_beside_the_real_one():
    at = page("views/interpolate.py", model="hinge")
    at.selectbox(key="ip_From_kind").set_value("real").run()
    at.number_input(key="ip_From_real").set_value(1).run()  # a 2
    assert not at.exception, [e.message for e in at.exception]
    captions = [i.caption for el in at.get("image") for i in el.proto.imgs]
    assert "From: real | inverted" in captions, captions  # the pair is shown
    judged = [w.value for w in at.warning if w.value.startswith("From: the inversion")] + \
        [c.value for c in at.caption if "reads as the same digit" in c.value]
    assert len(judged) == 1  # either way, the page says how the inversion reads


def test_compare_reports_a_corrupt_checkpoint_and_shows_the_rest():
    run = Run.create(make_config("vanilla"))
    run.set_status("done", pid=None)
    run.checkpoint_path.write_bytes(b"not a checkpoint")
    at = page("views/compare.py", model="wgan-gp")
    at.multiselect(key="compare_models").set_value([run.id, "wgan-gp"]).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(run.id in e.value for e in at.error)
    assert len(at.get("imgs")) + len(at.get("image")) >= 1  # wgan-gp's grid still shows


def test_train_page_shows_a_corrupt_metrics_database_as_an_error(runs_dir):
    run = Run.create(make_config("vanilla"))
    run.set_status("done")
    run.close()
    (run.path / "metrics.sqlite").write_bytes(b"\x13" * 4096)
    at = page("views/train.py", train_run=run.id)
    assert not at.exception, [e.message for e in at.exception]
    assert any("metrics.sqlite is corrupt" in e.value for e in at.error), texts(at)


@pytest.mark.parametrize("name,text", [("status.json", "[1, 2]"), ("config.json", '{"config": null}'),
                                       ("status.json", '{"status": "running", "pid": "abc"}')])
def test_every_page_lists_a_wrong_shaped_run_as_unreadable(name, text):
    run = Run.create(make_config("vanilla"))
    run.close()
    (run.path / name).write_text(text)
    at = page("views/overview.py")
    assert any(run.id in w.value and "could not be read" in w.value for w in at.warning)
    for path in ("views/train.py", "views/compare.py"):
        at.switch_page(path).run()
        assert not at.exception, (path, [e.message for e in at.exception])
    at.switch_page("views/train.py").run()
    assert any(f"unreadable {name}" in e.value for e in at.error), texts(at)


def test_gmm_drag_to_a_non_number_is_refused_and_the_last_good_edit_kept():
    at = page("views/gmm_editor.py", model="cwgan-gp")
    state = at.session_state["gmm_cwgan-gp"]
    x, y = state["xy"][3]
    at.session_state["drag_cwgan-gp"] = {"index": 3, "x": float(x) + 0.5, "y": float(y), "seq": 1}
    at.run()
    good = at.session_state["gmm_cwgan-gp"]["means"].clone()
    for seq, bad in enumerate([{"x": "abc", "y": 0.0}, {"x": float("nan"), "y": 0.0}, {"x": 1.0, "y": float("inf")}]):
        at.session_state["drag_cwgan-gp"] = {"index": 3, **bad, "seq": seq + 2}
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        assert any("Drag refused" in e.value for e in at.error), texts(at)
        assert torch.equal(at.session_state["gmm_cwgan-gp"]["means"], good)
    assert "component 3 by" in texts(at)  # the good edit is still shown


def test_page_knobs_are_kept_when_the_user_comes_back():
    at = page("views/classes.py", model="cwgan-gp")
    at.select_slider(key="classes_n").set_value(500).run()
    at.slider(key="classes_threshold").set_value(0.5).run()
    at.switch_page("views/overview.py").run()
    at.switch_page("views/classes.py").run()
    assert not at.exception
    assert at.slider(key="classes_threshold").value == 0.5 and at.select_slider(key="classes_n").value == 500
    assert not [w.value for w in at.warning if "Session State" in str(w.value)]


def test_overview_shows_every_row_with_dashes_not_none():
    at = page("views/overview.py")
    df = at.dataframe[0]
    board = df.value
    assert {"epochs", "train_min", "command"} <= set(board.columns)
    assert board.set_index("model").loc["wgan-gp", "command"].startswith("python -m core train --variant wgan-gp")
    assert board.set_index("model")["cond_acc"].isna().loc["wgan-gp"]  # not applicable: missing ...
    assert df.proto.placeholder == "–"  # ... and shown as "–", never "None"
    from core.train import zoo
    assert len(board) == 1 + len(zoo.index())  # the floor and every shipped model


def test_train_page_offers_fine_tuning_of_a_finished_run_and_shows_its_history(runs_dir):
    run = trained_run("wgan-wc")
    run.record_change({"step": 8, "epoch": 1, "changes": {"lr_g": [5e-5, 2.5e-5]}})
    at = page("views/train.py", train_run=run.id)
    assert any("Fine-tune" in e.label for e in at.expander)
    assert "At step 8 (epoch 1): lr_g 5e-05 → 2.5e-05" in texts(at)
    assert at.number_input(key=f"ft_lrg_{run.id}").value == pytest.approx(2.5e-5)  # half the run's lr by default
    # a weight-clipping run shows its critic's weights before the clamp
    assert at.select_slider(key=f"hist_epoch_{run.id}").value == 1
    # four logged points: smoothing (0.6 by default) still applies, the raw points stay faint behind
    import json
    loss = json.loads(next(c.proto.spec for c in at.get("plotly_chart") if '"Losses"' in c.proto.spec))
    raw, smooth = loss["data"][0], loss["data"][1]
    assert raw["mode"] == "markers" and smooth["name"] == "loss_d" and smooth["y"] != raw["y"]


def test_an_imported_course_model_renders_on_every_page(imported):
    at = page("views/overview.py")
    board = at.dataframe[0].value.set_index("model")
    assert board.loc["course", "source"] == "imported"
    at.button(key="cls_course").click().run()  # its grid is on the Overview, with the click-through
    assert at.session_state["model"] == "course"
    for path in ("views/compare.py", "views/latent_map.py", "views/classes.py", "views/interpolate.py",
                 "views/directions.py", "views/train.py", "views/findings.py", "views/gmm_editor.py"):
        at.switch_page(path).run()
        assert not at.exception, (path, [e.message for e in at.exception])
        if path in ("views/compare.py", "views/latent_map.py", "views/classes.py", "views/interpolate.py",
                    "views/directions.py"):
            assert at.session_state["model"] == "course", path  # the picker offers it
    # (the GMM editor offers only mixture priors: N(0, I) has no means to drag)
    at.session_state["model"] = "course"
    at.switch_page("views/refine.py")
    at.session_state["refine_n"] = 500
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [m.label for m in at.metric] == list(METRICS)  # DRS through its critic
    at.selectbox(key="pick_model").set_value("course-g").run()
    assert any("has no critic" in i.value for i in at.info), texts(at)
    assert not at.metric


def test_overview_import_form_registers_an_upload(imported):
    at = page("views/overview.py")
    assert "Import a model" in " ".join(e.label for e in at.expander)
    from core.store import importer
    res = importer.import_upload(("G.pth", (imported / "G.pth").read_bytes()),
                                 ("D.pth", (imported / "D.pth").read_bytes()), name="up")
    assert res["files"]["generator"]["file"] == "G.pth"  # the upload's name, not a temp path
    at.run()
    assert "up" in at.selectbox(key="import_remove_pick").options
    at.selectbox(key="import_remove_pick").set_value("up")
    at.button(key="import_remove").click().run()
    assert not at.exception
    from core.store.registry import list_imported
    assert list_imported() == ["course", "course-g"]


@pytest.fixture
def finished_sweep(monkeypatch, tmp_path):
    """A finished σ sweep's records (two seeds × two values) as the driver writes them."""
    from core.sweeps import records as sweep_records
    from core.sweeps import results as sweep_results
    from core.sweeps import spec as sweep_spec
    monkeypatch.setattr(sweep_results, "shipped_dir", lambda: tmp_path / "shipped")  # never trained/sweeps
    spec = sweep_spec.make_spec(variant="gm-static-wgan", grid={"prior_sigma": [0.5, 1.0]}, seeds=[0, 1], epochs=3,
                                name="sig")
    sweep_spec.sweep_dir("sig").mkdir(parents=True)
    sweep_records.write_record("sig", spec=spec, status="done", pid=1, fit_seconds=10.0)
    for i, (sigma, seed, fid) in enumerate([(0.5, 0, 13.0), (0.5, 1, 15.0), (1.0, 0, 11.0), (1.0, 1, 12.0)]):
        scores = {"fid": fid, "precision": 0.5, "recall": 0.3, "density": 0.4, "coverage": 0.2, "class_kl": 0.1,
                  "class_hist": [0.1] * 10, "n": 10_000}
        sweep_records.save_trial("sig", f"t{i}", params={"prior_sigma": sigma, "seed": seed}, status="done",
                                 scores=scores, started=float(i), wall_seconds=5.0)
    return sweep_results


def test_sweeps_page_reads_a_finished_sweep(finished_sweep):
    at = page("views/sweep.py")
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table["prior_sigma"]) == {0.5, 1.0}
    assert "**sig** · gm-static-wgan · 4 of 4 trials · done" in texts(at)
    assert len(at.get("plotly_chart")) == 2  # parallel coordinates + the metric against σ
    assert finished_sweep.knob_curve(finished_sweep.sweep_with_trials("sig")["rows"], "prior_sigma", "fid")[0]["mean"] == 14.0
    out = finished_sweep.export("sig", note="3 epochs, not the seed's 100")
    assert (out / "sweep.json").is_file()


def test_sweeps_page_refuses_a_bad_launch_in_one_line(finished_sweep):
    at = page("views/sweep.py")
    at.text_input[0].set_value("0.2,abc")  # prior_sigma's values
    at.button[[b.label for b in at.button].index("Launch sweep")].click().run()
    assert not at.exception
    assert any("prior_sigma must be a float" in e.value for e in at.error), texts(at)


def test_timeline_slider_changes_the_grid_the_map_and_the_marker():
    at = page("views/timeline.py", model="vanilla")
    assert at.selectbox(key="pick_model").value == "vanilla"
    slider = at.select_slider(key="tl_epoch_vanilla")
    assert slider.value == 40 and slider.options[0] == "1"

    def shown():
        charts = {c.proto.id: c.proto.spec for c in at.get("plotly_chart")}
        spec = next(s for s in charts.values() if "fixed map" in s)
        return at.get("image")[0].proto.imgs[0].url, spec, [m.value for m in at.metric]
    grid40, map40, metrics40 = shown()
    at.select_slider(key="tl_epoch_vanilla").set_value(5).run()
    assert not at.exception
    grid5, map5, metrics5 = shown()
    assert grid5 != grid40 and "epoch 5 on the fixed map" in map5 and map5 != map40
    assert metrics5 != metrics40 and float(metrics5[0]) > float(metrics40[0])  # FID at epoch 5 is worse
    # the curves' marker follows the slider
    fid = next(c.proto.spec for c in at.get("plotly_chart") if "FID so far" in c.proto.spec)
    import json
    assert [s["x0"] for s in json.loads(fid)["layout"]["shapes"]] == [5]
    # play: the clock, not the number of redraws, picks the epoch (one a second)
    at.toggle(key="tl_play").set_value(True).run()
    assert at.session_state["tl_playing"] and at.toggle(key="tl_play").value
    assert at.select_slider(key="tl_epoch_vanilla").value == 5  # no time has passed
    at.session_state["tl_playing"] = {**at.session_state["tl_playing"],
                                      "t0": at.session_state["tl_playing"]["t0"] - 2.2}  # 2.2 s later
    at.run()
    at.run()  # redraws within the same second do not advance it
    assert at.select_slider(key="tl_epoch_vanilla").value == 7
    at.toggle(key="tl_play").set_value(False).run()  # pause: the epoch shown stays
    assert at.select_slider(key="tl_epoch_vanilla").value == 7 and not at.session_state["tl_playing"]


def test_compare_overlays_the_timelines():
    at = page("views/compare.py", compare_models=["vanilla", "gm-dynamic"])
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    import json
    fid = json.loads(next(s for s in specs if "FID over epochs" in s))
    assert [t["name"] for t in fid["data"]] == ["vanilla", "gm-dynamic"]
    assert any("class KL to uniform over epochs" in s for s in specs)


def test_directions_page_edits_digits_along_a_class_boundary():
    at = page("views/directions.py", model="wgan-gp")
    assert not at.exception, [e.message for e in at.exception]
    at.radio(key="dir_method").set_value("class").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("linear separability of the digits in z" in c.value for c in at.caption)
    at.selectbox(key="dir_index").set_value(1)
    at.slider(key="dir_strength").set_value(0.0).run()
    assert any(c.value.startswith("0 of 16 digits now read as another digit") for c in at.caption)  # no edit
    at.slider(key="dir_strength").set_value(4.0).run()
    moved = next(c.value for c in at.caption if "digits now read as another digit" in c.value)
    assert int(moved.split()[0]) > 0  # +4σ towards "1" changes some of them
    assert any("land on digit 1" in c.value for c in at.caption)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 10  # one row per digit
    assert any(c.value.startswith("Share of the plane: ") for c in at.caption)  # the atlas, through class:1, 7, 0
    at.text_input(key="atlas_c").set_value("class:x").run()
    assert any("class:x" in e.value for e in at.error)  # a bad endpoint is a message, not a traceback
    at.text_input(key="atlas_c").set_value("class:0")
    at.text_input(key="dir_digit").set_value("map:1000:0:7").run()  # what the Latent map's search sends
    assert not at.exception and any("digit #7 of the map of 1000" in c.value and "+4σ reads as" in c.value
                                    for c in at.caption), texts(at)
    assert any(c.value.startswith("Authenticity 0.") for c in at.caption)  # shipped with the zoo: no button
    at.session_state["atlas_wgan-gp_class:1_class:7_class:0_32"] = {"selected": [37], "seq": 1}  # a box on cell 37
    at.run()
    at.button(key="atlas_to_edit").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.text_input(key="dir_digit").value == "atlas:32:37:class:1,class:7,class:0"
    assert any(c.value.startswith("atlas cell (1, 5) of the plane") for c in at.caption), texts(at)


def test_interpolate_sends_its_start_to_directions():
    at = page("views/interpolate.py", model="wgan-gp")
    at.button(key="ip_to_directions").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["dir_digit"].startswith(("random:", "class:", "component:", "real:"))
    assert at.title[0].value == "Directions"
