"""Train: launch a variant in the background, watch it live, cancel or resume it. All state
comes from the run store, so a reload or a second tab shows the same runs. What the page shows of
a run is worked out in core.dashboard.training; this file draws it."""
import plotly.graph_objects as go
import streamlit as st

from core.dashboard import catalog as core_models
from core.dashboard import launch, training
from core.errors import LabError
from core.gan.variants import CHOICES, VARIANTS, get_variant, make_config, seed_recipe
from core.store.runs import Run, cancel
from core.track.mlflow_sink import where as mlflow_where
from ui.common import guard, model_rows, tidy

st.title("Train")

CURVE_GROUPS = {
    "Losses": ["loss_d", "loss_g", "gp"],
    "Wasserstein estimate and critic outputs": ["wasserstein", "d_real", "d_fake"],
    "Gradient norms": ["grad_norm_d", "grad_norm_g"],
    "Clipping saturation (fraction of weights at ±c)": ["clip_sat_l0", "clip_sat_l1", "clip_sat_l2", "clip_sat_l3"],
    "Prior": ["prior_mean_norm", "prior_sigma_mean"],
    "Speed": ["img_s"],
}
CURVE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]


def show_notice(training_now: list) -> None:
    """The last launch's result, above the (collapsible) launch section."""
    if not st.session_state.get("train_notice"):
        return
    kind, text = st.session_state["train_notice"]
    if kind == "success" and not training_now:  # "Started …" describes a run that has ended since
        st.session_state.pop("train_notice")
    else:
        (st.error if kind == "error" else st.success)(text, icon=":material/error:" if kind == "error" else None)


def knob_inputs(variant: str, defaults: dict, suffix: str) -> dict:
    """One input per knob the variant uses, filled with `defaults`; their values."""
    cols = st.columns(4)
    values = {}
    for i, key in enumerate(training.form_knobs(variant)):
        d, widget_key = defaults[key], f"hp_{variant}_{key}{suffix}"
        with cols[i % 4]:
            if isinstance(d, str):
                values[key] = st.selectbox(key, CHOICES[key], index=CHOICES[key].index(d), key=widget_key,
                                           persist_state="session")
            elif isinstance(d, int):
                values[key] = st.number_input(key, value=d, step=1, key=widget_key, persist_state="session")
            else:
                values[key] = st.number_input(key, value=float(d), format="%g", step=training.float_step(float(d)),
                                              key=widget_key, persist_state="session")
    return values


def launch_form() -> None:
    """The variant, its knobs and the limits; a launch records its notice and reruns the page."""
    variant = st.selectbox("Variant", list(VARIANTS), key="train_variant", persist_state="session",
                           format_func=lambda v: f"{v} — {VARIANTS[v].title}")
    st.caption(get_variant(variant).about)
    seed = st.toggle("the seed's own recipe", key="train_seed_recipe", persist_state="session",
                     help="fill in the recipe of the variant's seed (no generator EMA, and the seed's values of the "
                          "defaults chosen since by time to quality) instead of today's defaults; "
                          "= `train --seed-recipe`")
    today = make_config(variant)
    defaults = make_config(variant, seed_recipe(variant)) if seed else today
    with st.form("hyper"):
        st.caption("Only the knobs this variant uses; " + ("its seed's recipe is filled in." if seed else
                   "today's defaults are filled in (the text above says where each comes from)."))
        values = knob_inputs(variant, defaults, "_seed" if seed else "")  # each filling keeps its own edits
        c1, c2 = st.columns(2)
        max_steps = c1.number_input("stop after N steps (0 = run all epochs)", value=0, min_value=0, step=100,
                                    key="hp_max_steps", persist_state="session")
        minutes = c2.number_input("stop after N minutes of wall time (0 = no limit)", value=0.0, min_value=0.0,
                                  step=1.0, format="%g", key="hp_minutes", persist_state="session",
                                  help="the max_seconds knob: the run ends, done, once it has taken this long")
        w = mlflow_where()
        track = st.toggle("also log to MLflow", key="hp_track", persist_state="session",
                          help=f"= `train --track mlflow`: to {w['uri']} ({w['source']}); "
                               "TensorBoard event files are written for every run (`tensorboard --logdir runs/`)")
        submitted = st.form_submit_button("Launch", type="primary", icon=":material/play_arrow:")
    if submitted:
        overrides = training.launch_overrides(values, today, minutes)  # only the difference from today's
        try:
            make_config(variant, overrides)
            extra = (["--max-steps", str(max_steps)] if max_steps else []) + (["--track", "mlflow"] if track else [])
            run_id = launch.start(variant, overrides, extra=extra or None)
            st.session_state["train_run"] = run_id
            model_rows.clear()
            st.session_state["train_notice"] = ("success", f"Started {run_id} ({variant}).")
        except LabError as exc:
            st.session_state["train_notice"] = ("error", f"Launch refused: {exc}")
        st.rerun()  # the notice shows above, where the eye is; the launch section may collapse


def pick_run() -> str:
    rows = [r for r in model_rows() if r["source"] == "run"]
    if not rows:
        st.info("No runs yet: launch one above (or `python -m core train --variant wgan-gp`).")
        st.stop()
    ids = [r["name"] for r in rows][::-1]  # newest first
    current = st.session_state.get("train_run")
    run_id = st.selectbox("Run", ids, index=ids.index(current) if current in ids else 0, key="train_pick")
    st.session_state["train_run"] = run_id
    return run_id


def rerun_app() -> None:
    """The run list changed (a run ended, was cancelled or resumed): redraw the whole page."""
    model_rows.clear()
    st.rerun(scope="app")


def cancel_button(run_id: str, where) -> None:
    if where.button("Cancel", key=f"cancel_{run_id}", icon=":material/stop:"):
        with st.spinner("Stopping (the run checkpoints first)…"):
            cancel(run_id)
        st.session_state.pop("train_notice", None)  # "Started …" no longer describes it
        rerun_app()


def resume_button(run: Run, where) -> None:
    """Resume from the last checkpoint, or restart from step 0 when there is none."""
    has_ckpt = run.checkpoint_path.is_file()
    if not has_ckpt:
        st.caption("This run stopped before its first checkpoint, so there is nothing to resume: Restart trains "
                   "it again from step 0 with the same settings.")
    if where.button("Resume" if has_ckpt else "Restart", key=f"resume_{run.id}", icon=":material/play_arrow:"):
        try:
            (launch.resume if has_ckpt else launch.restart)(run.id)
            rerun_app()
        except LabError as exc:
            st.error(str(exc), icon=":material/error:")


def fine_tune_panel(run: Run, cfg: dict) -> None:
    """More epochs from a finished run's checkpoint with new learning rates (seed 001)."""
    with st.expander("Fine-tune: more epochs from this checkpoint with new learning rates (seed 001)"):
        f1, f2, f3, f4 = st.columns(4)
        more = f1.number_input("total epochs", min_value=cfg["epochs"] + 1, value=cfg["epochs"] + 20, step=1,
                               key=f"ft_epochs_{run.id}")
        lr_g = f2.number_input("lr_g", value=float(cfg["lr_g"]) / 2, format="%g",
                               step=training.float_step(float(cfg["lr_g"])), key=f"ft_lrg_{run.id}")
        lr_d = f3.number_input("lr_d", value=float(cfg["lr_d"]) / 2, format="%g",
                               step=training.float_step(float(cfg["lr_d"])), key=f"ft_lrd_{run.id}")
        if f4.button("Fine-tune", key=f"ft_{run.id}", icon=":material/tune:"):
            try:
                launch.resume(run.id, epochs=int(more), changes=training.fine_tune_changes(cfg, lr_g, lr_d))
                rerun_app()
            except LabError as exc:
                st.error(str(exc), icon=":material/error:")


def run_header(run: Run, status: dict, cfg: dict) -> None:
    """Progress, what the run is doing, and the actions its state allows."""
    state = status.get("status", "?")
    c1, c2, _, _ = st.columns([3, 1, 1, 1])
    with c1:
        st.progress(training.progress_fraction(status), text=training.progress_text(status, cfg))
        if status.get("reason"):
            st.caption(status["reason"])
        if state == "running":
            st.caption(core_models.progress_note(status))
    if state == "running":
        cancel_button(run.id, c2)
    elif state in training.RESUMABLE:
        resume_button(run, c2)
    elif state == "done":
        if run.checkpoint_path.is_file():
            fine_tune_panel(run, cfg)
        for line in training.history_lines(run.history()):
            st.caption(line)
        if c2.button("Compare", key=f"cmp_{run.id}"):
            st.session_state["model"] = run.id
            st.switch_page("views/compare.py")


def curve_chart(title: str, keys: list[str], metrics: dict, axis: str, weight: float, log_y: bool) -> None:
    """One group of logged curves: each smoothed, its raw values faint behind it."""
    fig = go.Figure()
    for i, k in enumerate(keys):
        xs = [r[0] if axis == "step" else r[3] for r in metrics[k]]
        ys = [r[2] for r in metrics[k]]
        few = len(ys) < 30  # a short run: markers, so a handful of points reads as points
        colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
        if weight:  # the raw curve stays faint behind the smoothed one
            fig.add_scatter(x=xs, y=ys, mode="markers" if few else "lines", line=dict(color=colour, width=1),
                            opacity=0.35 if few else 0.25, showlegend=False, hoverinfo="skip")
        fig.add_scatter(x=xs, y=core_models.smooth(ys, weight), name=k,
                        mode="lines+markers" if few and not weight else "lines", line=dict(color=colour))
    tidy(fig, 260, title=title, xaxis_title="step" if axis == "step" else "seconds since the first row",
         yaxis_type="log" if log_y else "linear")
    st.plotly_chart(fig, key=f"curve_{title}")


def curves_panel(run_id: str) -> None:
    metrics = {}
    with guard("Curves", stop=False):
        metrics = core_models.run_metrics(run_id)
    k1, k2, k3 = st.columns([2, 2, 1])
    weight = k1.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="train_smooth", persist_state="session",
                       help="TensorBoard's debiased moving average; the raw curve stays faint behind it")
    axis = k2.radio("x axis", ["step", "wall time"], horizontal=True, key="train_axis", persist_state="session")
    log_y = k3.toggle("log y", key="train_logy", persist_state="session")
    groups = {title: present for title, keys in CURVE_GROUPS.items() if (present := [k for k in keys if k in metrics])}
    for title, keys in groups.items():
        curve_chart(title, keys, metrics, axis, weight, log_y)
    if not groups:
        st.caption("Curves appear after the first logged steps.")


def weight_hist_panel(run: Run) -> None:
    """Weight clipping: where the critic's weights sit before the clamp (seed 001, Figure 3)."""
    hists = run.weight_hists()
    if not hists:
        return
    by_epoch = {h["epoch"]: h for h in hists}
    epoch = st.select_slider("Critic weights before clipping — epoch", list(by_epoch), value=list(by_epoch)[-1],
                             key=f"hist_epoch_{run.id}")
    chart = training.weight_hist_chart(by_epoch[epoch])
    fig = go.Figure()
    for i, (layer, fractions) in enumerate(chart["layers"].items()):
        fig.add_scatter(x=chart["centres"], y=fractions, mode="lines+markers", name=f"layer {layer}",
                        line=dict(color=CURVE_COLOURS[i % len(CURVE_COLOURS)]))
    for x in (-chart["c"], chart["c"]):
        fig.add_vline(x=x, line_dash="dot", line_color="#888")
    tidy(fig, 260, title=f"Critic weights before clipping, epoch {epoch} (dotted: ±c = ±{chart['c']:g})",
         xaxis_title="weight (the end bins hold everything beyond ±2c)", yaxis_title="fraction of the layer")
    st.plotly_chart(fig, key="weight_hist")


def side_panel(run: Run, cfg: dict) -> None:
    """The latest sample grid and what the run changed from its variant's defaults."""
    grid = run.latest_sample()
    if grid:
        st.image(str(grid), caption=f"latest samples ({grid.stem})", width="stretch")
    else:
        st.caption("The first sample grid is written at the end of epoch 1.")
    st.markdown("**Config** — what this run changed from the variant's defaults")
    st.json(training.changed_from_defaults(cfg) or {"config": "the variant's defaults"}, expanded=True)


def live(run_id: str, polling: bool):
    with guard(f"Run {run_id}"):
        run = Run.open(run_id)
        status = run.status()
        cfg = run.config()
    if polling and status.get("status") != "running":  # it just ended: redraw once, then stop polling
        rerun_app()
    run_header(run, status, cfg)
    left, right = st.columns([2, 1])
    with left:
        curves_panel(run_id)
        weight_hist_panel(run)
    with right:
        side_panel(run, cfg)


training_now = launch.active_runs()  # read once: the notice and the launch section both ask
with st.container():  # launch results show here, above the (collapsible) launch section
    show_notice(training_now)
# Open when nothing trains and no run was picked this session (after a cancel, the run stays in view).
with st.expander("Launch a run", expanded=not training_now and not st.session_state.get("train_run")):
    launch_form()
run_id = pick_run()
with guard(f"Run {run_id}"):
    running = Run.open(run_id).status().get("status") == "running"
st.fragment(live, run_every=2 if running else None)(run_id, running)
