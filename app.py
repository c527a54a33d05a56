"""Latent Lab — landing page (the full dashboard comes with its own issue).

Run with `make run` (or `streamlit run app.py`). All logic lives in `core/`.
"""
import pandas as pd
import streamlit as st

from core.store import list_runs
from core.variants import VARIANTS

st.set_page_config(page_title="Latent Lab", page_icon="🧪", layout="wide")
st.title("Latent Lab")
st.caption("Train, score and see inside GANs on MNIST.")

st.subheader("Variants")
st.dataframe(pd.DataFrame([v.catalogue_row() for v in VARIANTS.values()]), hide_index=True,
             width="stretch")

st.subheader("Runs")
rows = []
for run in list_runs():
    try:
        rows.append(run.summary())
    except Exception as exc:  # a corrupt run is reported and skipped
        rows.append({"run_id": run.id, "status": "unreadable", "reason": str(exc)})
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    latest = [r for r in list_runs() if r.latest_sample()]
    if latest:
        run = latest[-1]
        st.image(str(run.latest_sample()), caption=f"latest samples of {run.id}", width=360)
else:
    st.info("No runs yet. Start one from a terminal: `python -m core train --variant wgan-gp --epochs 5`")
