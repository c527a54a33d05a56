"""Overview: the leaderboard of the zoo and the user's runs against the real-data floor."""
import pandas as pd
import streamlit as st

from core import models as core_models
from core.score import classifier_sha, score_model, score_real
from ui.common import MISSING, csv_button, goto, guard, leaderboard_view, model_rows
from ui.import_panel import import_panel
from ui.samples_panel import samples_panel
from ui.quality_panel import time_to_quality

st.title("Latent Lab")
st.caption("Every GAN variant on real MNIST, scored in the feature space of the project's MNIST classifier "
           "(FID here is *classifier-feature* FID: compare it only within this app). The first row is the "
           "real-data floor: 10k real training digits scored the same way.")


@st.cache_data(show_spinner="Scoring the real-data floor (once per classifier)…")
def floor(classifier: str):
    return score_real()


with guard("Scores"):
    rows = model_rows()
    table = pd.DataFrame(core_models.leaderboard_rows(rows, floor(classifier_sha())))
st.subheader("Leaderboard")
st.dataframe(leaderboard_view(table), hide_index=True, width="stretch", placeholder=MISSING,
             height=35 * (len(table) + 1) + 3,  # every row, no inner scroll
             column_config={"model": st.column_config.TextColumn("model", width="medium", pinned=True),
                            "fid": st.column_config.NumberColumn("FID ↓", help="classifier-feature FID"),
                            "class_kl": st.column_config.NumberColumn("class KL ↓", help="KL(class hist ‖ uniform)"),
                            "cond_acc": st.column_config.NumberColumn(
                                "cond. acc", help="conditional models only: label read = label asked for"),
                            "recipe": st.column_config.TextColumn(
                                "recipe", help="default: today's defaults (generator EMA, batch chosen by time to "
                                               "quality); seed: the seed's own recipe; custom: anything else"),
                            "epochs": st.column_config.NumberColumn("epochs", format="%d"),
                            "train_min": st.column_config.NumberColumn("train min", help="minutes of training"),
                            "command": st.column_config.TextColumn(
                                "command", width="medium", help="the command that trained it (runs: as started)")})
csv_button(table, "leaderboard", "Leaderboard CSV")
time_to_quality()
import_panel()
samples_panel(table)

unscored = [r["name"] for r in rows if r["source"] in ("run", "imported")
            and r["status"] in ("done", "cancelled", "imported") and not r.get("scores")]
if unscored:
    with st.expander(f"{len(unscored)} model(s) not scored yet"):
        pick = st.selectbox("Model", unscored, key="score_run")
        if st.button("Score it (10k digits, ~15 s)", key="score_btn"):
            with st.spinner(f"Scoring {pick}…"), guard("Scoring"):
                score_model(pick)
            model_rows.clear()
            st.rerun()

bad = [r for r in rows if r["status"] == "unreadable"]
for r in bad:
    st.warning(f"{'Imported model' if r['source'] == 'imported' else 'Run'} {r['name']} could not be read and is skipped: {r['reason']}", icon=":material/warning:")

st.subheader("Samples")
shown = [r for r in rows if core_models.grid_path_ok(r.get("grid"))]
if not shown:
    st.info("No sample grids yet.")
cols = st.columns(3)
for i, r in enumerate(shown):
    with cols[i % 3]:
        s = r.get("scores") or {}
        fid = f" · FID {s['fid']:.2f}" if s.get("fid") is not None else ""
        st.image(r["grid"], caption=f"{r['name']} ({r['source']}, {r['status']}){fid}", width="stretch")
        b1, b2, b3 = st.columns(3)
        if b1.button("Compare", key=f"cmp_{r['name']}", width="stretch"):
            goto("views/compare.py", r["name"])
        if b2.button("Map", key=f"map_{r['name']}", width="stretch"):
            goto("views/latent_map.py", r["name"])
        if b3.button("Classes", key=f"cls_{r['name']}", width="stretch"):
            goto("views/classes.py", r["name"])
