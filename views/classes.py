"""Classes: which digits a model makes, how sure the classifier is, and its hybrids."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.dashboard import catalog as core_models
from core.eval.names import METRICS
from core.eval.score import score_model
from ui.common import csv_button, fmt_scores, guard, pick_model, pick_prior, show_grid, tidy, version

st.title("Classes")
model = pick_model()
prior = pick_prior(model)
n = st.sidebar.select_slider("Digits", [500, 1000, 2000, 5000], value=1000, key="classes_n", persist_state="session")
with guard("Classes"):
    conditional = core_models.loaded(model).conditional
askable = prior is None and conditional  # a conditional model's trained prior is asked for classes
weights = "uniform"
if askable:
    weights = st.sidebar.radio("Classes asked for", ["uniform", "mnist"], key="classes_weights",
                               persist_state="session", format_func=lambda w: {"uniform": "uniform (1/10 each)",
                                                                               "mnist": "MNIST's frequencies"}[w],
                               help="seed 002: sample the classes as the training data has them (the CLI's "
                                    "score --class-weights)")
threshold = st.sidebar.slider("Confidence threshold", 0.0, 0.99, 0.9, 0.01, key="classes_threshold", persist_state="session",
                              help="digits below it count as unsure / hybrid")


@st.cache_data(show_spinner=False, max_entries=16)
def classified(model, n, prior, weights, ver):
    """The slow part, once per model and n: generate and classify. A threshold tick reuses it."""
    x, _ = core_models.shared_noise_digits(model, n, 0, prior, class_weights=weights)
    return x.numpy(), core_models.classify(x)


with guard("Classes"), st.spinner(f"Classifying {n} digits…"):
    x, cls = classified(model, int(n), prior, weights, version(model, prior))
rep = core_models.class_summary(cls, threshold=float(threshold), hybrids=30)
real = core_models.real_class_hist()

c1, c2, c3 = st.columns(3)
c1.metric("KL to uniform", f"{rep['class_kl']:.4f}", help="0 = every digit equally often")
c2.metric(f"confident (≥ {threshold:.2f})", f"{rep['confident_fraction']:.1%}")
c3.metric("mean confidence", f"{rep['confidence'].mean():.3f}")

fig = go.Figure()
fig.add_bar(x=list(range(10)), y=real, name="real (test split)", marker_color="#bbb")
fig.add_bar(x=list(range(10)), y=rep["hist"], name=f"{model}: all digits")
fig.add_bar(x=list(range(10)), y=rep["hist_confident"], name=f"{model}: confident only")
tidy(fig, 330, barmode="group", xaxis=dict(dtick=1, title="digit"),
                  yaxis_title="fraction")
st.plotly_chart(fig, key="classes_hist")
table = pd.DataFrame({"digit": range(10), "real": real, "model": rep["hist"], "model_confident": rep["hist_confident"]})
csv_button(table, f"classes_{model}")

if askable:
    with st.expander("Scores with these classes (10k digits)"):
        st.caption("FID, precision, recall, density and coverage against the test split when the classes are asked "
                   "for uniformly and at MNIST's frequencies (cached once computed).")
        if st.button("Score both (about 30 s)", key="classes_score"):
            with guard("Scoring"), st.spinner("Scoring 2 × 10k digits…"):
                rows = [{"classes": w, **{k: v for k, v in score_model(model, class_weights=w).items()
                                          if k in METRICS}}
                        for w in ("uniform", "mnist")]
            st.dataframe(fmt_scores(pd.DataFrame(rows)), hide_index=True, width="stretch")

st.subheader("Least confident digits (hybrids)")
h = rep["hybrids"]
st.caption("First row, read as (runner-up) with confidence: "
           + " · ".join(f"{rep['labels'][i]} ({rep['runner_up'][i]}) {rep['confidence'][i]:.2f}" for i in h[:10]))
show_grid(x[h], nrow=10, width=420, download=f"hybrids_{model}")

st.subheader("Per class, most confident first")
digit = st.segmented_control("Digit", list(range(10)), default=0, key="classes_digit", persist_state="session")
idx = rep["by_class"].get(digit if digit is not None else 0, [])
if idx:
    show_grid(x[idx[:50]], nrow=10, width=420, caption=f"{len(idx)} digits read as {digit}",
              download=f"class_{digit}_{model}")
else:
    st.info(f"The model made no digit the classifier reads as {digit}.")
