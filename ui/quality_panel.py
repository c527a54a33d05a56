"""The Overview's time-to-quality table: what S seconds of CPU training give each recipe."""
import pandas as pd
import streamlit as st

from core.freshness import quality_note
from core.quality import shipped_rows
from ui.common import MISSING, csv_button


def time_to_quality() -> None:
    rows = shipped_rows()
    st.subheader("Time to quality")
    if not rows:
        st.info("No time-to-quality rows shipped yet: `python -m core bench quality --variant V --seconds 540 "
                "--seed 0 --seed 1 --seed 2 --ship default` adds one.")
        return
    st.caption("Quality per CPU-minute, not per epoch: each variant trained from scratch for the stated wall time "
               "on a 2-core CPU (data, logging, grids, timeline records and checkpoints included), then scored on "
               "10k digits like the leaderboard. FID is the median over seeds, with its range: quality at equal "
               "time is noisy. *seed* is the seed's own recipe; *default* is today's default (`about` says where "
               "each default comes from). Where a recipe keeps a generator EMA, *FID, no EMA* scores the same "
               "runs' live generator: the EMA is only read from training, so that is the recipe without it.")
    if stale := quality_note(rows):
        st.warning(stale, icon=":material/update:")
    table = pd.DataFrame([{**r, "fid_range": f"{r['fid_min']:.2f}–{r['fid_max']:.2f}" if "fid_min" in r else None}
                          for r in rows])
    cols = [c for c in ("variant", "recipe", "seconds", "seeds", "fid", "fid_range", "fid_raw", "precision",
                        "recall", "coverage", "class_kl", "epochs", "img_s", "command") if c in table]
    st.dataframe(table[cols], hide_index=True, width="stretch", placeholder=MISSING,
                 column_config={"fid": st.column_config.NumberColumn("FID ↓ (median)", format="%.2f"),
                                "fid_range": st.column_config.TextColumn("FID range"),
                                "fid_raw": st.column_config.NumberColumn(
                                    "FID, no EMA", format="%.2f",
                                    help="the same runs' live generator (median): the recipe without the EMA"),
                                "seconds": st.column_config.NumberColumn("seconds", format="%d"),
                                "epochs": st.column_config.NumberColumn("epochs", format="%.1f"),
                                "img_s": st.column_config.NumberColumn("img/s", format="%d",
                                                                       help="images per second of wall time"),
                                "precision": st.column_config.NumberColumn(format="%.3f"),
                                "recall": st.column_config.NumberColumn(format="%.3f"),
                                "coverage": st.column_config.NumberColumn(format="%.3f"),
                                "class_kl": st.column_config.NumberColumn("class KL ↓", format="%.3f"),
                                "command": st.column_config.TextColumn("command", width="medium")})
    csv_button(table[cols], "time_to_quality", "Time-to-quality CSV")
