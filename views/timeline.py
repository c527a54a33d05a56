"""Timeline: watch a GAN learn. An epoch slider over a run's (or a zoo model's) records: the
sample grid of that epoch, its class histogram, the quality curves so far, and that epoch's
digits on one fixed 2-D map of real digits; play/pause and an animated GIF."""
import time

import plotly.graph_objects as go
import streamlit as st

from core.dashboard import epoch_view
from core.eval.names import METRICS, PRDC
from core.results.freshness import timeline_note
from core.train import timeline as tl_mod
from ui.common import CLASS_COLOURS, MISSING, csv_button, guard, pick_model, tidy

st.title("Timeline")
st.caption("Every recorded epoch of a training run, scored on the same fixed noise: FID / precision / recall / "
           "density / coverage, the classes the classifier reads, and where the digits fall on a map of real "
           "digits that never moves. Runs record every epoch by default (`eval_every`).")


@st.cache_data(ttl=5, show_spinner=False)
def names() -> list[str]:
    return tl_mod.available()


@st.cache_data(show_spinner=False, max_entries=16)
def cached_timeline(model: str, ver: str) -> tl_mod.Timeline:
    return tl_mod.load(model)


@st.cache_data(show_spinner=False, max_entries=4)
def gif(model: str, ver: str) -> bytes:
    return tl_mod.animation(cached_timeline(model, ver))


options = names()
if not options:
    st.info("No timelines yet: train a run on the Train page (it records every epoch unless eval_every is 0).")
    st.stop()
model = pick_model("Model with a timeline", options=options, only="models with a timeline (the zoo's and your runs')",
                   help="zoo models that ship a timeline, then your runs")
ver = tl_mod.version(model)
with guard("Timeline"):
    tl = cached_timeline(model, ver)
if not tl.rows:
    st.info(f"{model} has no records yet.")
    st.stop()
if stale := timeline_note(tl):
    st.warning(stale, icon=":material/update:")
summ = tl_mod.summary(tl)
epochs = tl.epochs
key = f"tl_epoch_{model}"
if st.session_state.get(key) not in epochs:
    st.session_state[key] = epochs[-1]

first = summ["first_epoch_over_5pct"]
st.caption(f"**{model}**: {len(epochs)} records, epochs {epochs[0]}–{epochs[-1]}, {tl.rows[-1]['n']} digits each "
           f"(n 1k scores run higher than the leaderboard's n 10k). "
           + (f"Best FID {summ['best_fid']:.2f} at epoch {summ['best_fid_epoch']}. " if summ["best_fid"] is not None else "")
           + "Each class first above 5 % of the digits: "
           + ", ".join(f"{d} @ {e if e is not None else 'never'}" for d, e in first.items())
           + (f". The recorder cost {summ['record_cost']:.1%} of the training time." if summ["record_cost"] else "."))


def toggle_play():
    """Play on starts the clock at the epoch shown; off keeps the epoch shown when it was switched."""
    if st.session_state.get("tl_play"):
        st.session_state["tl_playing"] = {"t0": time.time(), "epoch": st.session_state[key]}
    else:
        st.session_state["tl_playing"] = None


playing = st.session_state.get("tl_playing")
st.session_state["tl_play"] = bool(playing)  # the toggle shows the clock's state (a page left and reopened too)
c1, c2, c3 = st.columns([1, 1, 4])
# a toggle, not a button: a button's click lives in one rerun request, which the epoch panel's
# once-a-second rerun could pre-empt on a busy machine (Pause then did nothing); a toggle's state
# goes with every later request, so the next run still sees it
c1.toggle("Play", key="tl_play", on_change=toggle_play,
          help=f"step through the epochs, {tl_mod.PLAY_EPOCHS_PER_S:g} a second by the clock; off pauses")
with c2:
    st.download_button("GIF", lambda: gif(model, ver), file_name=f"timeline_{model}.gif", mime="image/gif",
                       key="tl_gif", icon=":material/download:", help="grid and map of every recorded epoch")


def curve_fig(keys: tuple[str, ...], epoch: int, title: str, height: int = 260, log_y: bool = False):
    """The records up to `epoch` (so far), on an x axis that spans the whole run so it never jumps."""
    fig = go.Figure()
    for i, k in enumerate(keys):
        pts = epoch_view.curve_so_far(tl.rows, k, epoch)
        if pts["ema"]:
            fig.add_scatter(x=[p[0] for p in pts["ema"]], y=[p[1] for p in pts["ema"]], name=k, mode="lines+markers",
                            line=dict(color=CLASS_COLOURS[i]), marker=dict(size=4))
        if pts["raw"]:
            fig.add_scatter(x=[p[0] for p in pts["raw"]], y=[p[1] for p in pts["raw"]], name=f"{k} (raw G, no EMA)",
                            mode="lines", line=dict(color=CLASS_COLOURS[i], dash="dot"))
    fig.add_vline(x=epoch, line=dict(color="#444", dash="dash"))
    return tidy(fig, height, title=title, xaxis=dict(title="epoch", range=epoch_view.epoch_axis(epochs)),
                yaxis_type="log" if log_y else "linear")


def grid_panel(epoch: int) -> None:
    """The epoch's sample grid, or the nearest one a shipped timeline kept."""
    kept = tl.nearest_grid(epoch)
    if kept and kept[0] == epoch:
        st.image(kept[1], caption=f"epoch {epoch}: 100 digits from the fixed evaluation noise", width="stretch")
    elif kept:
        st.image(kept[1], width="stretch", caption=f"epoch {kept[0]}, the nearest grid kept: a shipped timeline "
                 f"keeps epochs 1–{tl_mod.GRID_EVERY_UNTIL}, then every {tl_mod.GRID_EVERY}th "
                 f"(the map and scores are epoch {epoch}'s)")
    else:
        st.caption(f"No sample grid was kept for epoch {epoch}.")


def map_panel(epoch: int) -> None:
    """The epoch's digits, coloured by the class read, among the fixed map's real digits."""
    p, missing = epoch_view.map_points(tl, epoch)
    fig = go.Figure()
    fig.add_scattergl(x=tl.frame_xy[:, 0], y=tl.frame_xy[:, 1], mode="markers", name="real test digits",
                      marker=dict(color="#d0d0d0", size=4), hoverinfo="skip")
    if p is not None:
        for d in range(10):
            sel = p["label"] == d
            if sel.any():
                fig.add_scattergl(x=p["xy"][sel, 0], y=p["xy"][sel, 1], mode="markers", name=f"read as {d}",
                                  marker=dict(color=CLASS_COLOURS[d], size=5, opacity=0.8),
                                  text=[f"read as {d} ({c:.0%})" for c in p["conf"][sel]], hoverinfo="text")
    xrange, yrange = epoch_view.map_ranges(tl.frame_xy)
    tidy(fig, 460, title=f"epoch {epoch} on the fixed map", xaxis=dict(range=xrange, showticklabels=False),
         yaxis=dict(range=yrange, showticklabels=False))
    fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=-0.02, yanchor="top"), margin=dict(b=60))
    st.plotly_chart(fig, key="tl_map")
    st.caption("Grey: real test digits, placed once by UMAP of their classifier features. Colour: this "
               "epoch's digits, each placed among its nearest real digits, coloured by the class read."
               + (f" Not shown: {missing}." if missing else ""))


def class_hist_panel(row: dict, epoch: int) -> None:
    fig = go.Figure(go.Bar(x=list(range(10)), y=row["class_hist"], marker_color=CLASS_COLOURS, showlegend=False,
                           text=[f"{h:.0%}" for h in row["class_hist"]], textposition="outside"))
    fig.add_scatter(x=[-0.5, 9.5], y=[0.1, 0.1], mode="lines", name="uniform (10 %)", hoverinfo="skip",
                    line=dict(color="#888", dash="dot"))  # named in the legend, not over the bars' labels
    tidy(fig, 300, title=f"classes read at epoch {epoch} (KL to uniform {row['class_kl']:.3f})",
         xaxis=dict(dtick=1, title="digit"), yaxis=dict(title="fraction", range=[0, max(0.3, max(row['class_hist']) * 1.2)]))
    st.plotly_chart(fig, key="tl_hist")


@st.fragment(run_every=1.0 if playing else None)  # the clock decides the epoch; a slow redraw skips, never lags
def epoch_panel():
    """The epoch slider and everything of that epoch: scores, grid, map, classes, curves so far."""
    play = st.session_state.get("tl_playing")
    if play:
        st.session_state[key] = tl_mod.playback_epoch(epochs, play["epoch"], time.time() - play["t0"])
    epoch = st.select_slider("Epoch", epochs, key=key)
    row = tl.rows[epochs.index(epoch)]
    for col, (k, v) in zip(st.columns(len(METRICS)), epoch_view.epoch_scores(row).items()):
        col.metric(k, MISSING if v is None else f"{v:.3f}")
    left, right = st.columns(2)
    with left:
        grid_panel(epoch)
    with right:
        map_panel(epoch)
    left, right = st.columns(2)
    with left:
        class_hist_panel(row, epoch)
    with right:
        st.plotly_chart(curve_fig(("fid",), epoch, "FID so far (log scale)", log_y=True), key="tl_fid")
    st.plotly_chart(curve_fig(PRDC, epoch, " / ".join(PRDC) + " so far", 280), key="tl_prdc")


epoch_panel()

with st.expander("Every record"):
    import pandas as pd
    table = pd.DataFrame(epoch_view.record_table(tl.rows))
    st.dataframe(table, hide_index=True, width="stretch", placeholder=MISSING)
    csv_button(table, f"timeline_{model}")
    st.caption(f"The same rows: `python -m core timeline {model} --json`.")
