"""The pages' controls that the second browser review found wanting, in AppTest: a page that
cannot show the chosen model keeps the shared choice, GMM component names that follow a drag,
the Sweeps form's limits, Compare's config diff, and the Timeline's plots (the pages' other
tests: test_app.py)."""

from helpers import page, texts


def test_a_page_that_cannot_show_the_chosen_model_keeps_the_shared_choice(imported):
    """The GMM editor (mixture priors only) and the Timeline (models with a timeline) say they
    cannot show the chosen model, offer their own, and leave the choice the other pages follow."""
    at = page("views/gmm_editor.py", model="wgan-gp")
    assert at.session_state["model"] == "wgan-gp"
    assert any("wgan-gp" in i.value and "cannot be shown here" in i.value for i in at.info), texts(at)
    assert at.selectbox(key="pick_model_here").value in ("gm-static", "gm-dynamic", "cwgan-gp", "gm-static-wgan",
                                                         "gm-static-sup", "gm-static-cluster", "gmm-cwgan-gp")
    at.session_state["model"] = "course"  # an imported model has no timeline
    at.switch_page("views/timeline.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["model"] == "course"
    assert any("course" in i.value and "cannot be shown here" in i.value for i in at.info), texts(at)
    at.switch_page("views/refine.py")
    at.session_state["refine_n"] = 500
    at.run()
    assert at.selectbox(key="pick_model").value == "course"  # Refine refines the chosen model, not another


def test_gmm_component_names_follow_what_a_drag_makes_it_produce():
    """Dragging gm-static's component 3 onto component 1's place makes it produce 1s: its name
    says so in the same rerun (it read 'c3→0' before)."""
    at = page("views/gmm_editor.py", model="gm-static")
    names = at.selectbox(key="gmm_k_gm-static").options
    state = at.session_state["gmm_gm-static"]
    x, y = state["xy"][1]
    at.session_state["drag_gm-static"] = {"index": 3, "x": float(x), "y": float(y), "seq": 7,
                                          "points": state["xy"].tolist()}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    from core.eval.metrics import reads_as
    now = reads_as(at.session_state["gmm_gm-static"]["views"][3]["labels"], top=1)[0][0]
    after = at.selectbox(key="gmm_k_gm-static").options
    assert after[3] == f"c3→{now}" and after[3] != names[3], (names, after)


def test_component_names_read_the_digit_each_makes_most():
    import numpy as np

    from core.dashboard.mixture_editor import component_names
    assert component_names({0: np.array([7, 7, 1]), 1: np.array([], dtype=int)}) == ["c0→7", "c1"]


def test_sweeps_form_takes_a_step_and_a_data_limit(monkeypatch):
    """The smallest sweep need not be a full epoch per trial: the form passes both limits on."""
    from core.dashboard import launch
    from core.errors import RunError
    seen = {}

    def spawned(args, log):
        seen["args"] = args
        raise RunError("not started in this test")
    monkeypatch.setattr(launch, "_detached", spawned)
    at = page("views/sweep.py")
    at.number_input(key="sweep_max_steps").set_value(200)
    at.number_input(key="sweep_data_limit").set_value(5000)
    at.button[[b.label for b in at.button].index("Launch sweep")].click().run()
    assert not at.exception
    args = seen["args"]
    assert args[args.index("--max-steps") + 1] == "200" and args[args.index("--data-limit") + 1] == "5000"


def test_compare_shows_the_config_diff_and_why_an_imported_model_has_no_timeline(imported):
    at = page("views/compare.py", compare_models=["vanilla", "course"])
    assert any("course (no timeline: imported (trained elsewhere))" in c.value for c in at.caption), texts(at)
    diff = next(d.value for d in at.dataframe if "knob" in d.value.columns)
    assert {"vanilla", "course"} <= set(diff.columns)
    assert "epochs" in set(diff["knob"]) and "lr_g" not in set(diff["knob"])  # only what differs (40 vs 30)


def test_timeline_plots_read_clearly():
    """FID on a log axis and only up to the epoch shown ("so far"); the uniform line named in the
    legend, not written over the bars; titles left of the mode bar; a "read as 7" point not in the
    backdrop's grey."""
    import json
    at = page("views/timeline.py", model="vanilla")
    at.select_slider(key="tl_epoch_vanilla").set_value(5).run()
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    fid = next(s for s in specs if "FID so far" in json.dumps(s["layout"].get("title")))
    assert fid["layout"]["yaxis"]["type"] == "log" and fid["layout"]["title"]["xanchor"] == "left"
    xs = fid["data"][0]["x"]
    import base64

    import numpy as np
    xs = np.frombuffer(base64.b64decode(xs["bdata"]), dtype=xs["dtype"]) if isinstance(xs, dict) else np.array(xs)
    assert xs.max() == 5  # so far: not the whole run
    hist = next(s for s in specs if "classes read at epoch 5" in json.dumps(s["layout"].get("title")))
    assert any(t.get("name") == "uniform (10 %)" for t in hist["data"]) and not hist["layout"].get("annotations")
    mp = next(s for s in specs if "on the fixed map" in json.dumps(s["layout"].get("title")))
    backdrop = next(t["marker"]["color"] for t in mp["data"] if t["name"] == "real test digits")
    assert all(t["marker"]["color"] != backdrop for t in mp["data"] if t["name"].startswith("read as"))
    from ui.common import CLASS_COLOURS
    assert CLASS_COLOURS[7] != "#7f7f7f"
