"""Compare 2–4 models side by side: digits from the same noise, scores against the floor,
class histograms and training curves overlaid."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from core.dashboard import catalog as core_models
from core.errors import LabError
from core.eval.names import METRICS
from core.eval.score import score_real
from core.gan.variants import VARIANTS
from core.train import timeline as core_timeline
from ui.common import (
    CLASS_COLOURS,
    MISSING,
    csv_button,
    digits,
    guard,
    leaderboard_view,
    model_rows,
    show_grid,
    tidy,
    usable_models,
)

st.title("Compare")
options = usable_models()
if len(options) < 2:
    st.info("Comparing needs at least two models with weights.")
    st.stop()
first = st.session_state.get("model") if st.session_state.get("model") in options else options[0]
default = [first] + [m for m in ("wgan-gp", "vanilla", "cwgan-gp") if m in options and m != first][:1]
chosen = st.multiselect("Models (2–4)", options, default=default, max_selections=4, key="compare_models", persist_state="session")
seed = st.sidebar.number_input("Noise seed", value=0, step=1, key="compare_seed", persist_state="session")
if len(chosen) < 2:
    st.info("Pick at least two models.")
    st.stop()

st.subheader("Digits from the same noise")
st.caption("Every model gets the same ε (and, for mixture priors, the same components in rows).")
cols = st.columns(len(chosen))
for col, name in zip(cols, chosen):
    with col, guard(name, stop=False), st.spinner(f"Sampling {name}…"):
        x, _ = digits(name, 100, int(seed))
        show_grid(x, caption=name, width="stretch", download=f"compare_{name}_{seed}")  # fits its column

rows = {r["name"]: r for r in model_rows()}
colour = {name: CLASS_COLOURS[i] for i, name in enumerate(chosen)}  # one colour per model in every chart
floor = score_real()
table = pd.DataFrame(core_models.leaderboard_rows([rows[n] for n in chosen], floor))
st.subheader("Scores against the real-data floor")
st.dataframe(leaderboard_view(table), hide_index=True, width="stretch", placeholder=MISSING,
             column_config={"epochs": st.column_config.NumberColumn("epochs", format="%d")})
csv_button(table, "compare_scores")
missing = [n for n in chosen if not rows[n].get("scores")]
if missing:
    st.caption(f"Not scored yet: {', '.join(missing)} — score them on the Overview page.")
metric = st.radio("Metric", list(METRICS), horizontal=True,
                  key="compare_metric", persist_state="session")
fig = go.Figure(go.Bar(x=table["model"], y=table[metric], marker_color=["#999"] + [colour[n] for n in chosen],
                       text=[f"{v:.3f}" if v == v and v is not None else "" for v in table[metric]],
                       textposition="outside"))
tidy(fig, 300, yaxis_title=metric)
st.plotly_chart(fig, key="compare_bar")

left, right = st.columns(2)
with left:
    st.subheader("Inferred classes")
    fig = go.Figure()
    fig.add_bar(x=list(range(10)), y=core_models.real_class_hist(), name="real (test)", marker_color="#bbb")
    for name in chosen:
        s = rows[name].get("scores") or {}
        hist = s.get("class_hist")
        if hist is None:
            try:
                x, _ = digits(name, 1000, 0)
            except LabError:
                continue  # reported above, beside its grid
            hist = core_models.class_report(torch.from_numpy(x))["hist"]
        fig.add_bar(x=list(range(10)), y=hist, name=name, marker_color=colour[name])
    tidy(fig, 320, barmode="group", xaxis_title="digit",
                      yaxis_title="fraction", xaxis=dict(dtick=1))
    st.plotly_chart(fig, key="compare_hist")
with right:
    st.subheader("Training curves")
    curves = {}
    for name in chosen:
        try:
            curves[name] = core_models.curves(name)
        except Exception:  # noqa: BLE001 - a run without metrics just has no curve
            curves[name] = {}
    keys = sorted({k for c in curves.values() for k in c})
    if keys:
        key = st.selectbox("Curve", keys, index=keys.index("loss_d") if "loss_d" in keys else 0,
                           key="compare_curve", persist_state="session")
        a, b = st.columns(2)
        weight = a.slider("Smoothing", 0.0, 0.99, 0.0, 0.01, key="compare_smooth", persist_state="session")
        log_y = b.toggle("log y", key="compare_logy", persist_state="session")
        fig = go.Figure([go.Scatter(x=[p[0] for p in c[key]], y=core_models.smooth([p[1] for p in c[key]], weight),
                                    name=n, mode="lines+markers" if len(c[key]) < 30 else "lines",
                                    line=dict(color=colour[n]))
                         for n, c in curves.items() if key in c])
        tidy(fig, 320, xaxis_title="epoch", yaxis_title=key, yaxis_type="log" if log_y else "linear")
        families = {VARIANTS[v].loss if (v := rows[n].get("variant")) in VARIANTS else None
                    for n in curves if key in curves[n]}
        if key.startswith(("loss", "d_real", "d_fake", "wasserstein")) and len(families - {None, ""}) > 1:
            st.caption(f"These models use different losses ({', '.join(sorted(families - {None, ''}))}): "
                       f"their {key} values are on different scales and mean different things — compare shapes, "
                       f"not heights.")
        st.plotly_chart(fig, key="compare_curves")
    else:
        st.caption("No curves recorded for these models.")

st.subheader("Config: the knobs that differ")
configs = {}
for name in chosen:
    with guard(name, stop=False):
        configs[name] = core_models.loaded(name).config
diff = core_models.config_diff(configs)
if diff:
    st.dataframe(pd.DataFrame(diff).astype(str).replace("None", MISSING), hide_index=True, width="stretch")
else:
    st.caption("Their configs are identical: the differences above come from training (seed, run length) alone.")

st.subheader("Quality over training")
timelines = core_timeline.curves(chosen)
if timelines:
    st.caption("From each model's training timeline: scored on the same fixed noise at every recorded epoch "
               "(n 1k: higher than the leaderboard's n 10k). Step through one model on the Timeline page.")
    left, right = st.columns(2)
    for col, k, title in ((left, "fid", "FID over epochs"), (right, "class_kl", "class KL to uniform over epochs")):
        fig = go.Figure([go.Scatter(x=c["epoch"], y=c[k], name=n, mode="lines+markers" if len(c["epoch"]) < 30 else "lines",
                                    line=dict(color=colour[n])) for n, c in timelines.items()])
        tidy(fig, 320, title=title + (" (log scale)" if k == "fid" else ""), xaxis_title="epoch", yaxis_title=k,
             yaxis_type="log" if k == "fid" else "linear")  # a good model's tail is not flat at 0–2
        col.plotly_chart(fig, key=f"compare_tl_{k}")
no_tl = [n for n in chosen if n not in timelines]
if no_tl:
    st.caption("Not in these charts: " + "; ".join(
        f"{n} ({core_models.no_timeline_reason(rows[n], configs.get(n))})" for n in no_tl) + ".")
