"""The Overview's time-to-quality table: what S seconds of CPU training give each recipe."""
import pandas as pd
import streamlit as st

from core.results.freshness import quality_note
from core.results.quality import RECIPES_HELP, shipped_rows, table_rows
from ui.common import MISSING, csv_button, table_height


def time_to_quality() -> None:
    rows = table_rows()  # best FID first, recipes in the leaderboard's words
    st.subheader("Time to quality")
    if not rows:
        st.info("No time-to-quality rows shipped yet: `python -m core bench quality --variant V --seconds 540 "
                "--seed 0 --seed 1 --seed 2 --ship default` adds one.")
        return
    st.caption("Quality per CPU-minute, not per epoch: each variant trained from scratch for the stated wall time "
               "on the stated number of CPU cores, one torch thread each (data, logging, grids, timeline records "
               "and checkpoints included; `bench quality --threads N` pins a run to N cores), then scored on "
               "10k digits like the leaderboard. FID is the median over seeds, with its range (one number for "
               "one seed): quality at equal time is noisy. Recipes, as on the leaderboard — " + RECIPES_HELP +
               " (`about` says where each default comes from). Where a recipe keeps a generator EMA, *FID, no "
               "EMA* scores the same runs' live generator: the EMA is only read from training, so that is the "
               "recipe without it. Compared recipes (`bench quality --recipe A --recipe B`) were trained "
               "interleaved and chosen on *FID, validation*; FID is the test split's.")
    if stale := quality_note(shipped_rows()):  # the raw rows carry the fingerprint of what scored them
        st.warning(stale, icon=":material/update:")
    table = pd.DataFrame(rows)
    cols = [c for c in ("variant", "recipe", "cores", "seconds", "seeds", "fid", "fid_range", "fid_raw", "fid_valid", "precision",
                        "recall", "coverage", "class_kl", "epochs", "img_s", "command") if c in table]
    st.dataframe(table[cols], hide_index=True, width="stretch", placeholder=MISSING,
                 height=table_height(len(table)),  # every row: the headline ones are not below an inner fold
                 column_config={"recipe": st.column_config.TextColumn("recipe", help=RECIPES_HELP),
                                "fid": st.column_config.NumberColumn("FID ↓ (median)", format="%.2f"),
                                "fid_range": st.column_config.TextColumn("FID range", help="over the seeds"),
                                "fid_raw": st.column_config.NumberColumn(
                                    "FID, no EMA", format="%.2f",
                                    help="the same runs' live generator (median): the recipe without the EMA"),
                                "fid_valid": st.column_config.NumberColumn(
                                    "FID, validation", format="%.2f",
                                    help="the same samples against the validation split (median): what compared "
                                         "recipes are chosen on; FID is reported on the test split"),
                                "seconds": st.column_config.NumberColumn("seconds", format="%d"),
                                "cores": st.column_config.NumberColumn(
                                    "cores", format="%d", help="CPU cores the run had, with as many torch threads"),
                                "epochs": st.column_config.NumberColumn("epochs", format="%.1f"),
                                "img_s": st.column_config.NumberColumn("img/s", format="%d",
                                                                       help="images per second of wall time"),
                                "precision": st.column_config.NumberColumn(format="%.3f"),
                                "recall": st.column_config.NumberColumn(format="%.3f"),
                                "coverage": st.column_config.NumberColumn(format="%.3f"),
                                "class_kl": st.column_config.NumberColumn("class KL ↓", format="%.3f"),
                                "command": st.column_config.TextColumn("command", width="large")})
    csv_button(table[cols], "time_to_quality", "Time-to-quality CSV")
