"""Overview's "Score a file of samples": upload, scores beside the floor and the zoo, the class
histogram and a feature-space map of the samples (all logic in core.eval.sample_files)."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.errors import LabError
from core.eval import sample_files as samples
from core.eval.names import METRICS
from ui.common import fmt_scores, guard, show_grid, tidy


@st.cache_data(show_spinner=False, max_entries=8)
def _scored(path: str):
    from core.eval.score import score_real  # torch, the classifier and the map: only once a file is scored
    from core.explore.maps import features_map
    x, info = samples.load_samples(path)  # read once: scored, mapped and shown
    res = samples.score_loaded(x, info, path)
    return res, score_real(n=res["n"]), features_map(x), x[:100].numpy()


def samples_panel(zoo_rows: pd.DataFrame) -> None:
    with st.expander("Score a file of samples (your own generator's digits)"):
        limit = min(samples.MAX_BYTES // 2**20, st.get_option("server.maxUploadSize"))
        st.caption("One .npz / .npy / .pt of N×28×28, N×1×28×28 or N×784 digits (uint8 0–255, or floats in [0, 1] "
                   f"or [−1, 1]: detected), or any number of 28×28 PNGs. Up to {limit} MiB here (larger: `python -m "
                   f"core score --samples FILE`) and {samples.MAX_N:,} digits; scored against the test split like "
                   f"every model, beside the floor at the same n. Uploads are kept up to "
                   f"{samples.UPLOAD_BUDGET // 2**20} MiB in all (the oldest go first); a refused one is not kept.")
        up = st.file_uploader("Samples", type=["npz", "npy", "pt", "png"], accept_multiple_files=True,
                              key="samples_upload")
        if not up:
            return
        with guard("Samples", stop=False), st.spinner(f"Reading and scoring {len(up)} file(s)…"):
            path = samples.save_upload([(f.name, f.getvalue()) for f in up])
            try:
                res, floor, pts, first = _scored(str(path))
            except LabError:
                samples.discard_upload(path)  # a refused upload is not kept
                raise
            st.success(f"Read {res['n']:,} digits ({res['format']}, values {res['range']}).", icon=":material/check:")
            best = zoo_rows[zoo_rows["model"] != "real data (floor)"].nsmallest(3, "fid") \
                if "fid" in zoo_rows and "model" in zoo_rows else pd.DataFrame()
            table = pd.DataFrame([{"model": "your samples", "n": res["n"], **{k: res[k] for k in METRICS}},
                                  {"model": "real data (floor)", "n": floor["n"], **{k: floor[k] for k in METRICS}},
                                  *[{"model": r["model"], "n": 10_000, **{k: r.get(k) for k in METRICS}}
                                    for _, r in best.iterrows()]])
            st.dataframe(fmt_scores(table), hide_index=True, width="stretch")
            if res["n"] != 10_000:
                st.caption(f"The zoo rows are at n 10,000; precision, recall and coverage depend on n, so compare "
                           f"your samples with the floor at n {floor['n']:,}.")
            c1, c2 = st.columns(2)
            with c1:
                fig = go.Figure()
                fig.add_bar(x=list(range(10)), y=floor["class_hist"], name="real", marker_color="#bbb")
                fig.add_bar(x=list(range(10)), y=res["class_hist"], name="your samples")
                tidy(fig, 300, barmode="group", xaxis=dict(dtick=1, title="digit"), yaxis_title="fraction")
                st.plotly_chart(fig, key="samples_hist")
            with c2:
                fig = go.Figure(go.Scattergl(x=pts["xy"][:, 0], y=pts["xy"][:, 1], mode="markers",
                                             marker=dict(size=4, color=pts["label"], colorscale="Turbo", cmin=0,
                                                         cmax=9, colorbar=dict(title="digit")),
                                             text=[f"read as {l} ({c:.2f})" for l, c in
                                                   zip(pts["label"], pts["confidence"])], hoverinfo="text"))
                tidy(fig, 300, xaxis_title="PC 1 (classifier features)", yaxis_title="PC 2")
                st.plotly_chart(fig, key="samples_map")
            show_grid(first, nrow=10, width=420, caption="the first 100 digits", download="your_samples")
