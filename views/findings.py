"""Findings: the seeds' claims, each checked on this project's shipped models (core/results/findings.py)."""
import pandas as pd
import streamlit as st

from core.results import findings
from core.results.findings import CLAIMS, REFINE_N, N, shipped_state
from core.results.findings import findings as compute
from core.results.freshness import findings_note
from ui.common import csv_button, guard

st.title("Findings")
st.caption(f"Each claim of the course's five research write-ups (seeds 000–004, named by their teams) tested on the "
           f"shipped zoo: scores on {N:,} samples (refinements on {REFINE_N:,} proposals) with three sampling seeds, "
           "mean ± spread. " + findings.VERDICT_RULE + " The spread is sampling noise only: each zoo model is one "
           "training run, as in the seeds. Same "
           "table: `python -m core findings`. Two claims need work the zoo does not ship (seed 002's σ sweep: three "
           "trainings; seed 004's EM refit: all 50k train digits inverted): the shipped table has them; a "
           "recompute without that work reads *not measured* there, and `python -m core findings --train` does it"
           + (f" (the shipped rows' last computation took {m:.0f} min, with what was already cached then; "
                "everything it computes is cached)."
              if (m := findings.shipped_work_minutes()) else " (cached)."))
seeds = st.sidebar.multiselect("Sampling seeds", [0, 1, 2, 3, 4], default=[0, 1, 2], key="findings_seeds",
                               persist_state="session")


@st.cache_data(show_spinner=False, max_entries=4)
def rows(seeds: tuple, kept: dict):
    return compute(seeds, kept=kept)


if len(seeds) < 2:
    st.info("Pick at least two sampling seeds: a verdict needs a spread.")
    st.stop()
kept, old = shipped_state(seeds)
if note := findings_note(old):
    st.warning(note, icon=":material/update:")
recompute = st.button("Recompute from the models", icon=":material/refresh:")
if kept and not recompute:
    st.caption(f"{len(kept)} of {len(CLAIMS)} rows as shipped with the zoo (`python -m core findings --ship`)"
               + ("." if len(kept) == len(CLAIMS) else "; the others are recomputed: a model they use changed "
                  "since, or they are new."))
with guard("Findings"), st.spinner(f"Checking {len(CLAIMS) - (0 if recompute else len(kept))} claims (every score is "
                                   "cached; a cold run scores each model on each seed and takes several minutes)…"):
    table = pd.DataFrame(rows(tuple(sorted(seeds)), {} if recompute else kept))
counts = table["verdict"].value_counts()
cols = st.columns(len(counts))
for col, (v, k) in zip(cols, counts.items()):
    col.metric(v, int(k))
table["caveat"] = [" ".join(w) if isinstance(w, list) else "" for w in table.get("warnings", [None] * len(table))]
shown = table[["writeup", "claim", "verdict", "caveat", "evidence"]]
st.dataframe(shown, hide_index=True, width="stretch", row_height=70, height=70 * len(shown) + 40,  # every row
             column_config={"writeup": st.column_config.TextColumn("write-up", width=130),
                            "claim": st.column_config.TextColumn("claim", width="medium"),
                            "verdict": st.column_config.TextColumn("verdict", width=130),
                            "caveat": st.column_config.TextColumn("⚠ caveat", width="medium",
                                                                  help="e.g. a model collapsed to one class"),
                            "evidence": st.column_config.TextColumn("evidence (mean ± spread)", width="large")})
st.subheader("Each claim in full")  # the why and basis are long: wrapped here, never cut off
for r in table.to_dict("records"):
    with st.expander(f"{r['writeup']} · {r['claim']} — {r['verdict']}"):
        st.markdown(f"**Claim ({r['writeup']}):** {r['statement']}\n\n**Evidence:** {r['evidence'] or '—'}\n\n"
                    f"**Why {r['verdict']}:** {r['why']}\n\n**Basis:** {r['basis'] or '—'}")
csv_button(table.drop(columns=["fingerprint", "warnings"], errors="ignore"), "findings", "Findings CSV")
