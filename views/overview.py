"""Overview: the leaderboard of the zoo and the user's runs against the real-data floor."""
import pandas as pd
import streamlit as st

from core.dashboard import catalog as core_models
from core.eval.score_files import classifier_sha, last_scoring, stored_floor
from core.results.quality import RECIPES_HELP
from ui.common import MISSING, csv_button, goto, guard, leaderboard_view, model_rows, table_height
from ui.import_panel import import_panel
from ui.quality_panel import time_to_quality
from ui.samples_panel import samples_panel

st.title("Latent Lab")
st.caption("Every GAN variant on real MNIST, scored in the feature space of the project's MNIST classifier "
           "(FID here is *classifier-feature* FID: compare it only within this app). The first row is the "
           "real-data floor: 10k real training digits scored the same way.")


@st.cache_data(show_spinner="Reading the real-data floor…")
def floor(classifier: str):
    """Shipped in trained/reference/ (read without torch: this page is the first one a user opens);
    computed (once) only for another classifier or data set."""
    if (found := stored_floor()) is not None:
        return found
    from core.eval.score import score_real
    return score_real()


with guard("Scores"):
    rows = model_rows()
    table = pd.DataFrame(core_models.leaderboard_rows(rows, floor(classifier_sha()), ranked=True))
st.subheader("Leaderboard")
st.dataframe(leaderboard_view(table), hide_index=True, width="stretch", placeholder=MISSING,
             height=table_height(len(table)),  # every row, and the last one above the horizontal scrollbar
             column_config={"model": st.column_config.TextColumn("model", width="medium", pinned=True),
                            "fid": st.column_config.NumberColumn("FID ↓", help="classifier-feature FID"),
                            "class_kl": st.column_config.NumberColumn("class KL ↓", help="KL(class hist ‖ uniform)"),
                            "cond_acc": st.column_config.NumberColumn(
                                "cond. acc", help="conditional models only: label read = label asked for"),
                            "ppl": st.column_config.NumberColumn(
                                "PPL ↓", help="perceptual path length in classifier features (score --latent)"),
                            "separability": st.column_config.NumberColumn(
                                "separability", help="held-out accuracy of a linear model predicting the digit from z"),
                            "authenticity": st.column_config.NumberColumn(
                                "authenticity", help="share of digits that are not copies of a training digit "
                                                     "(Alaa et al. 2022, classifier features)"),
                            "recipe": st.column_config.TextColumn("recipe", help=RECIPES_HELP),
                            "epochs": st.column_config.NumberColumn("epochs", format="%d"),
                            "train_min": st.column_config.NumberColumn("train min", help="minutes of training"),
                            "command": st.column_config.TextColumn(
                                "command", width="large", help="the command that trained it (runs: as started); "
                                                               "every one in full below the table")})
csv_button(table, "leaderboard", "Leaderboard CSV")
commands = table.dropna(subset=["command"]) if "command" in table else table.iloc[:0]
with st.expander(f"The command that trained each model ({len(commands)})"):
    st.code("\n".join(f"# {m}\n{c}" for m, c in zip(commands["model"], commands["command"])) or "—",
            language="bash", wrap_lines=True)
time_to_quality()
import_panel()
samples_panel(table)

unscored = [r["name"] for r in rows if r["source"] in ("run", "imported")
            and r["status"] in ("done", "cancelled", "imported") and not r.get("scores")]
if unscored:
    with st.expander(f"{len(unscored)} model(s) not scored yet"):
        pick = st.selectbox("Model", unscored, key="score_run")
        last = last_scoring(10_000)
        took = f", the last took {last['seconds']:.0f} s here" if last else ""  # measured on this machine, or none
        if st.button(f"Score it (10k digits{took})", key="score_btn"):
            with st.spinner(f"Scoring {pick}…"), guard("Scoring"):
                from core.eval.score import score_model
                score_model(pick)
            model_rows.clear()
            st.rerun()

bad = [r for r in rows if r["status"] == "unreadable"]
for r in bad:
    what = "Imported model" if r["source"] == "imported" else "Run"
    st.warning(f"{what} {r['name']} could not be read and is skipped: {r['reason']}", icon=":material/warning:")

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
