"""Sweeps: launch one on Ray from the browser, follow its trials, and read its results — a table,
knobs → metric in parallel coordinates, the metric against one knob with its spread over seeds,
and every trial's digits side by side (all logic in core/sweeps/)."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.dashboard import launch, training
from core.eval.names import LOWER_IS_BETTER, METRICS
from core.gan.variants import VARIANTS
from core.results.freshness import sweep_note
from core.sweeps import drive as sweep_drive
from core.sweeps import records as sweep_records
from core.sweeps import results as sweep_results
from core.sweeps import spec as sweep_spec
from ui.common import csv_button, fmt_scores, guard, tidy

st.title("Sweeps")
st.caption("A sweep trains one variant for every combination of the knobs' values × seeds, on Ray Tune (started on "
           "this machine, or the cluster in $RAY_ADDRESS). Every trial is an ordinary run: any page can open it.")

with st.expander("New sweep", expanded=not sweep_results.names()):
    with st.form("sweep_form"):
        c1, c2, c3 = st.columns(3)
        variant = c1.selectbox("Variant", list(VARIANTS), index=list(VARIANTS).index("gm-static-wgan"))
        epochs = c2.number_input("Epochs per trial", 1, 200, 3)
        scheduler = c3.radio("Scheduler", sweep_spec.SCHEDULERS, horizontal=True,
                             help="asha stops the trials whose quick FID lags at each epoch")
        knobs = training.form_knobs(variant)
        k1, v1, k2, v2 = st.columns([1, 2, 1, 2])
        key_a = k1.selectbox("Knob", knobs, index=knobs.index("prior_sigma") if "prior_sigma" in knobs else 0)
        vals_a = v1.text_input("Values", "0.2,0.5,1,1.5,2", help="comma-separated")
        key_b = k2.selectbox("Second knob (optional)", ["—", *knobs])
        vals_b = v2.text_input("Its values", "")
        s1, s2, s3 = st.columns(3)
        seeds = s1.text_input("Seeds", "0,1", help="each setting is trained once per seed: the spread shown below")
        max_steps = s2.number_input("Stop each trial after N steps (0 = all its epochs)", 0, None, 0, 100,
                                    key="sweep_max_steps")
        data_limit = s3.number_input("Train on the first N digits (0 = all 50k)", 0, 50_000, 0, 1000,
                                     key="sweep_data_limit", help="a small, quick sweep: e.g. 5000 digits, 200 steps")
        go_ = st.form_submit_button("Launch sweep", type="primary")
    if go_:
        with guard("Sweep", stop=False), st.spinner("Starting Ray and the sweep…"):
            grid = sweep_spec.parse_grid([f"{key_a}={vals_a}"] + ([f"{key_b}={vals_b}"] if key_b != "—" and vals_b else []))
            name = launch.start_sweep(variant, grid, [int(s) for s in seeds.split(",") if s.strip()], int(epochs),
                                      scheduler, max_steps=int(max_steps), data_limit=int(data_limit))
            st.session_state["sweep_pick"] = name
            st.success(f"Sweep {name} started; it keeps running when this page closes.", icon=":material/check:")

all_names = sweep_results.names()
if not all_names:
    st.info("No sweep yet: launch one above or with `python -m core sweep VARIANT --grid key=v1,v2`.")
    st.stop()
name = st.selectbox("Sweep", all_names, key="sweep_pick")


@st.fragment(run_every=5)
def live_progress(name: str, ended_before: int):
    """Re-read every 5 s while the sweep runs; the whole page reruns when a trial ends."""
    v = sweep_results.sweep_with_trials(name)
    ended = sum(1 for r in v["rows"] if r["status"] in sweep_records.ENDED)
    if ended != ended_before or v["status"] != "running":
        st.rerun()
    st.progress(ended / max(1, v["expected"]), text=f"{ended} of {v['expected']} trials finished")
    going = [r for r in v["rows"] if r["status"] not in sweep_records.ENDED]
    if going:
        st.dataframe(pd.DataFrame(going)[["trial", *sweep_spec.swept_knobs(v["spec"]), "status", "epoch", "progress",
                                          "fid"]].rename(columns={"fid": "quick fid"}), hide_index=True,
                     column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0,
                                                                                max_value=1.0)})
    if st.button("Cancel sweep", key=f"sweep_cancel_{name}"):
        st.toast(sweep_drive.cancel(name))


with guard("Sweep"):
    v = sweep_results.sweep_with_trials(name)
if v["source"] == "live" and v["status"] == "running":
    live_progress(name, sum(1 for r in v["rows"] if r["status"] in sweep_records.ENDED))
spec = v["spec"]
what = spec["variant"] if spec["kind"] == "train" else f"{spec['kind']} of {spec['model']}"
st.caption(f"**{name}** · {what} · {v.get('trials', len(v['rows']))} of {v['expected']} trials · {v['status']}"
           + (f" · {spec['epochs']} epochs each" if spec["kind"] == "train" else "")
           + (" · shipped with the project" if v["source"] == "shipped" else ""))
if v.get("note"):
    st.info(v["note"], icon=":material/info:")
if stale := sweep_note(v):
    st.warning(stale, icon=":material/update:")

rows = pd.DataFrame(v["rows"])
metric = st.radio("Metric", list(METRICS), horizontal=True, key="sweep_metric")
knobs = [k for k in sweep_spec.swept_knobs(spec) if k in rows]
st.subheader("Trials")
cfg = {"progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)}
if len(rows):
    st.dataframe(fmt_scores(rows), hide_index=True, width="stretch", column_config=cfg)
    csv_button(rows, f"sweep_{name}", "Trials CSV")
else:
    st.caption("No trial has reported yet: the running ones are in the live table above." if v["status"] == "running"
               else "This sweep has no trials.")
if v.get("baseline"):
    st.caption(f"The model as it is: {metric} {v['baseline'][metric]:.3f} (n {v['baseline']['n']}).")

done = rows[rows["status"] == "done"] if "status" in rows else rows.iloc[0:0]
if len(done) and knobs and metric in done:
    left, right = st.columns(2)
    with left:
        st.subheader("Knobs → metric")
        dims = [dict(label=k, values=pd.to_numeric(done[k], errors="coerce")) for k in knobs]
        fig = go.Figure(go.Parcoords(line=dict(color=done[metric], colorscale="Viridis", showscale=True,
                                               reversescale=metric in LOWER_IS_BETTER),
                                     dimensions=[*dims, dict(label=metric, values=done[metric])]))
        tidy(fig, 360)
        fig.update_layout(margin=dict(l=70, r=70, t=70, b=30))  # the axis titles sit above the plot, ticks beside
        st.plotly_chart(fig, key="sweep_parcoords")
    with right:
        knob = st.selectbox("Against", knobs, key="sweep_knob")
        curve = sweep_results.knob_curve(v["rows"], knob, metric)
        st.subheader(f"{metric} against {knob}")
        fig = go.Figure(go.Scatter(
            x=[c["value"] for c in curve], y=[c["mean"] for c in curve], mode="lines+markers", name="mean",
            error_y=dict(type="data", symmetric=False, array=[c["max"] - c["mean"] for c in curve],
                         arrayminus=[c["mean"] - c["min"] for c in curve])))
        tidy(fig, 300, xaxis_title=knob, yaxis_title=metric, xaxis_type="log" if knob.startswith("lr") else None)
        st.plotly_chart(fig, key="sweep_curve")
        st.caption("Mean over the trials at each value; the bars span their min to max (seeds and other knobs).")

if v["grids"]:
    st.subheader("Every trial's digits")
    shown = [r for r in v["rows"] if r["trial"] in v["grids"]]
    cols = st.columns(min(5, len(shown)) or 1)
    for i, r in enumerate(shown):
        label = ", ".join(f"{k} {r.get(k)}" for k in knobs)
        val = r.get(metric)
        with cols[i % len(cols)]:
            st.image(v["grids"][r["trial"]], caption=f"{label} · {metric} "
                     + (f"{val:.3f}" if isinstance(val, (int, float)) else "—"), width="stretch")

runs = [r["run_id"] for r in v["rows"] if r.get("run_id")] if v["source"] == "live" else []
if runs:
    pick = st.multiselect("Open trials in Compare (2–4)", runs, max_selections=4, key="sweep_compare")
    if st.button("Open in Compare", disabled=len(pick) < 2, key="sweep_compare_go"):
        st.session_state["compare_models"] = pick
        st.session_state["model"] = pick[0]
        st.switch_page("views/compare.py")
elif v["source"] == "shipped":
    st.caption("Shipped sweeps carry scores and grids, not weights: run the same command to have the trials here.")
