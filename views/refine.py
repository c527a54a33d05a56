"""Refine: discriminator rejection sampling and discriminator optimal transport, before and
after on the same proposals, with metric deltas against the real-data floor."""
import pandas as pd
import streamlit as st

from core.dashboard import catalog as core_models
from core.eval.names import LOWER_IS_BETTER, METRICS
from core.eval.score import score_real
from core.explore import refine
from ui.common import fmt_scores, guard, pick_model, show_grid, version

st.title("Refine")
model = pick_model()
with guard("Model"):
    has_critic = core_models.loaded(model).has_critic
if not has_critic:
    st.info(f"**{model}** has no critic, and DRS and DOT both need one: import it again with its discriminator "
            "(Overview → Import a model, or `python -m core import --generator G.pth --critic D.pth --name "
            f"{model} --force`).", icon=":material/info:")
    st.stop()
sb = st.sidebar
method = sb.radio("Method", ["drs", "drs-sigmoid", "dot-latent", "dot-target"], key="refine_method", persist_state="session",
                  format_func={"drs": "DRS (Azadi)", "drs-sigmoid": "DRS, p = σ(D − τ)",
                               "dot-latent": "DOT in latent space", "dot-target": "DOT in image space"}.get)
n = sb.select_slider("Digits scored", [500, 1000, 2000, 5000], value=1000, key="refine_n", persist_state="session")
seed = sb.number_input("Seed", value=0, step=1, key="refine_seed", persist_state="session")
if method.startswith("drs"):
    mode = sb.radio("Acceptance", ["target rate", "percentile γ" if method == "drs" else "τ"], key="refine_mode",
                    persist_state="session")
    if mode == "target rate":
        knobs = {"target_rate": sb.slider("Target acceptance rate", 0.05, 0.95, 0.2, 0.05, key="refine_rate",
                                          persist_state="session")}
    elif method == "drs":
        knobs = {"percentile": sb.slider("γ = percentile of F̂", 50.0, 95.0, 80.0, 1.0, key="refine_pct",
                                         persist_state="session")}
    else:
        knobs = {"tau": sb.number_input("τ", value=0.0, key="refine_tau", persist_state="session")}
    knobs["burn_in"] = 5000
else:
    knobs = {"optimizer": sb.radio("Optimiser", ["sgd", "adam"], key="refine_opt", persist_state="session",
                                   format_func={"sgd": "SGD (official DOT)", "adam": "Adam β (0, 0.9)"}.get,
                                   help="Adam moves every pixel or code ~lr per step whatever the gradient: far more "
                                        "transport than SGD"),
             "steps": sb.slider("Steps", 1, 100, 20, key="refine_steps", persist_state="session",
                                help="seed 001 used 20; the official code 100"),
             "lr": sb.select_slider("Learning rate", [0.001, 0.003, 0.01, 0.03, 0.1], value=0.01, key="refine_lr",
                                    persist_state="session")}


@st.cache_data(show_spinner=False, max_entries=8)
def run(model, method, n, seed, knobs_items, ver):
    m = core_models.loaded(model)
    res = refine.before_after(m.G, m.D, m.prior, method, n, seed, m.conditional, keep_trajectory=10,
                              **dict(knobs_items))
    before, after = res.pop("images")
    for k in ("rejected", "trajectory"):
        res[k] = None if res[k] is None else res[k].numpy()
    return before[:100].numpy(), after[:100].numpy(), res


with guard("Refinement"), st.spinner(f"Running {method} on {n} digits and scoring before/after…"):
    before, after, extra = run(model, method, int(n), int(seed), tuple(sorted(knobs.items())), version(model))
sb_, sa_ = extra["before"], extra["after"]

with st.spinner(f"Scoring {n} real digits for a floor at the same n (once)…"):
    floor = score_real(n=int(n))  # at the same n: precision, recall and coverage depend on it
table = pd.DataFrame([{"": f"real-data floor ({n} digits)", **{k: floor[k] for k in METRICS}},
                      {"": "before", **{k: sb_[k] for k in METRICS}},
                      {"": "after", **{k: sa_[k] for k in METRICS}}])
cols = st.columns(len(METRICS))
for c, k in zip(cols, METRICS):
    c.metric(k, f"{sa_[k]:.3f}", f"{sa_[k] - sb_[k]:+.3f}",
             delta_color="inverse" if k in LOWER_IS_BETTER else "normal")
st.dataframe(fmt_scores(table), hide_index=True, width="stretch")
for warning in refine.verdict(extra, core_models.loaded(model).variant.loss):
    st.warning(warning, icon=":material/trending_down:")
if extra["acceptance_rate"] is not None:
    st.caption(f"Acceptance rate {extra['acceptance_rate']:.1%}. Before = {n} proposals (the same {n} for every "
               f"method at this seed); after = the first {n} accepted proposals of a stream that starts with them.")
else:
    st.caption(f"k_eff {extra['k_eff']:.3g}; mean transport cost {extra['mean_cost']:.3f}; objective "
               f"{extra['objective'][0]:.4g} → {extra['objective'][-1]:.4g}. Before = {n} proposals (the same {n} "
               f"for every method at this seed), after = the same digits transported. {refine.K_EFF_NOTE}")

left, right = st.columns(2)
with left:
    show_grid(before, caption="before (proposals)", width=340, download=f"refine_before_{model}")
with right:
    show_grid(after, caption="after", width=340, download=f"refine_after_{model}")
if extra.get("rejected") is not None and len(extra["rejected"]):
    st.subheader("Rejected proposals")
    show_grid(extra["rejected"], nrow=10, width=340, download=f"refine_rejected_{model}")
if extra["trajectory"] is not None:
    st.subheader("Transport trajectories (10 digits, every step)")
    steps = len(extra["objective"])
    show_grid(extra["trajectory"], nrow=steps, width=min(900, 30 * steps), download=f"refine_traj_{model}")
