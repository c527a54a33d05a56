"""GMM editor: drag a mixture prior's component means (shown in the plane of their principal
components) with the mouse; the dragged component's digits and the mixture's class histogram
regenerate at once. Per-component σ, reset. The model's own weights are never changed."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.dashboard import catalog as core_models
from core.dashboard import mixture_editor as gmm
from core.errors import LabError
from ui.common import COMPONENT_COLOURS, guard, model_rows, pick_model, show_grid, tidy, usable_models
from ui.components import drag_points

st.title("GMM editor")
mixture = core_models.mixture_models(model_rows(), usable_models())
if not mixture:
    st.info(f"No mixture-prior model yet ({', '.join(core_models.mixture_variants())}). "
            "Train one on the Train page.")
    st.stop()
model = pick_model(options=mixture, only="mixture-prior models")
with guard(model):
    loaded = core_models.loaded(model)
    G, prior, cond = loaded.G, loaded.prior, loaded.conditional
    base_plane = gmm.means_plane(prior.means)

key = f"gmm_{model}"
reset = st.sidebar.button("Reset all edits", icon=":material/restart_alt:", key=f"gmm_reset_{model}")
if key not in st.session_state or reset:
    last = st.session_state.get(f"drag_{model}")  # the component keeps its last drag: don't replay it
    st.session_state[key] = {"means": prior.means.detach().clone(), "sigmas": prior.sigmas().detach().clone(),
                             "xy": base_plane["xy"].copy(), "views": {},
                             "seq": last.get("seq") if isinstance(last, dict) else None,
                             "selected": 0}
    for j in range(prior.k):
        st.session_state.pop(f"gmm_sigma_{model}_{j}", None)
state = st.session_state[key]


def current_prior():
    return gmm.edited(prior, means=state["means"], sigmas=state["sigmas"])


def component_digits(k: int) -> dict:
    """Component k's digits under the current edits and the classifier's reading of them
    (mixture_editor.component_view), kept until that component is edited again."""
    if k not in state["views"]:
        state["views"][k] = gmm.component_view(G, current_prior(), k)
    return state["views"][k]


def apply_drag(moved) -> None:
    """A new drag from the component (its value, read before it is drawn so the labels and the
    plot show the state after the drag): move that component's mean, keep the last good state
    if the drag is refused."""
    if not isinstance(moved, dict) or moved.get("seq") == state["seq"]:
        return
    state["seq"] = moved.get("seq")
    try:
        k, target = gmm.drag_target(moved, prior.k)
        new_means = gmm.move_mean(state["means"], {**base_plane, "xy": state["xy"]}, k, target)
    except LabError as exc:
        st.error(f"Drag refused: {exc}. The edit before it is kept.", icon=":material/error:")
        return
    state["means"], state["xy"] = new_means, state["xy"].copy()
    state["xy"][k] = target
    state["views"].pop(k, None)
    state["selected"] = k
    st.session_state[f"gmm_k_{model}"] = k  # show the dragged component


apply_drag(st.session_state.get(f"drag_{model}"))
xy = state["xy"]
pad = 0.35 * max(np.ptp(base_plane["xy"][:, 0]), np.ptp(base_plane["xy"][:, 1]), 1e-3)
lo, hi = base_plane["xy"].min(0) - pad, base_plane["xy"].max(0) + pad
with guard("Sampling"):
    labels = gmm.component_names({j: component_digits(j)["labels"] for j in range(prior.k)})  # what each one makes now
d = prior.means.shape[1]
left, right = st.columns([3, 2])
with left:
    st.caption(f"Drag a circle to move that component's mean within this plane (2 of the {d} latent directions; "
               f"the other {d - 2} stay as they were). Labels read 'component → the digit it makes most' and follow "
               f"your edits. A sample lies about σ·√{d} ≈ {gmm.drag_scale(prior, 0):.1f} from its mean, so drags much "
               f"shorter than that change the digits little."
               + (" Component k is class k in this conditional model." if cond else ""))
    drag_points(xy.tolist(), labels=labels, colors=[COMPONENT_COLOURS[j % len(COMPONENT_COLOURS)]
                                                    for j in range(prior.k)],
                key=f"drag_{model}", xrange=[lo[0], hi[0]], yrange=[lo[1], hi[1]],
                title=f"{model}: component means (PCA plane)")
with right:
    k = st.selectbox("Component", list(range(prior.k)), index=state["selected"], key=f"gmm_k_{model}",
                     format_func=lambda i: labels[i])
    state["selected"] = k
    sigma = st.slider("σ of this component", 0.05, 3.0, float(state["sigmas"][k]), 0.05, key=f"gmm_sigma_{model}_{k}")
    if abs(sigma - float(state["sigmas"][k])) > 1e-9:
        state["sigmas"][k] = sigma
        state["views"].pop(k, None)
        st.rerun()  # the component's name follows what it makes now
    with guard("Sampling"):
        v = component_digits(k)
    reads = ", ".join(f"{digit} ({count})" for digit, count in gmm.reads_as(v["labels"]))
    show_grid(v["images"], nrow=8, width=300, caption=f"component {k}: 64 digits, read as {reads}",
              download=f"gmm_{model}_{k}")
    moved_k = float((state["means"][k] - prior.means.detach()[k]).norm())
    if moved_k > 1e-6 and moved_k < 0.25 * gmm.drag_scale(current_prior(), k):
        st.caption(f"This component moved {moved_k:.2f}, small beside its spread σ·√{d} ≈ "
                   f"{gmm.drag_scale(current_prior(), k):.1f}: expect similar digits. Drag further, or lower σ.")

with st.spinner("Class histogram…"), guard("Histogram"):
    views = {j: component_digits(j) for j in range(prior.k)}
    hist = gmm.mixture_histogram(views)
fig = go.Figure()
fig.add_bar(x=list(range(10)), y=core_models.real_class_hist(), name="real", marker_color="#bbb")
fig.add_bar(x=list(range(10)), y=hist, name="edited mixture", marker_color="#1f77b4")
tidy(fig, 260, barmode="group",
                  xaxis=dict(dtick=1, title="inferred digit"), yaxis_title="fraction")
st.plotly_chart(fig, key="gmm_hist")
moved_by = (state["means"] - prior.means.detach()).norm(dim=1)
st.caption("Moved: " + (", ".join(f"component {j} by {float(d):.2f}" for j, d in enumerate(moved_by) if d > 1e-6)
                        or "nothing yet"))
