"""Interpolate between two codes (random, class / component, or an inverted real digit),
linearly or spherically, with the classifier's reading of every frame."""
import plotly.graph_objects as go
import streamlit as st
import torch

from core.dashboard import catalog as core_models
from core.explore.latent import endpoint, interpolate
from core.store.images import gif_bytes
from core.store.mnist import to_uint8
from ui.common import goto, guard, pick_model, pick_prior, show_grid, tidy, version

st.title("Interpolate")
model = pick_model()
prior_name = pick_prior(model)
with guard(model):
    prior = core_models.loaded(model, prior_name).prior


def endpoint_picker(side: str, default_seed: int) -> str:
    kinds = ["random", "class"] + (["component"] if prior.k >= 2 else []) + ["real"]
    kind = st.selectbox(f"{side}: kind", kinds, key=f"ip_{side}_kind", persist_state="session",
                        format_func={"random": "random code", "class": "a class", "component": "mixture component",
                                     "real": "real test digit (inverted)"}.get)
    if kind == "random":
        v = st.number_input(f"{side}: seed", value=default_seed, step=1, key=f"ip_{side}_seed", persist_state="session")
    elif kind in ("class", "component"):
        v = st.selectbox(f"{side}: {kind}", list(range(10 if kind == "class" else prior.k)),
                         index=default_seed % (10 if kind == "class" else prior.k), key=f"ip_{side}_{kind}",
                         persist_state="session")
    else:
        v = st.number_input(f"{side}: test digit index", value=default_seed, min_value=0, max_value=9999, step=1,
                            key=f"ip_{side}_real", persist_state="session")
    return f"{kind}:{int(v)}"


c1, c2, c3 = st.columns([2, 2, 1])
with c1:
    spec_a = endpoint_picker("From", 0)
with c2:
    spec_b = endpoint_picker("To", 1)
with c3:
    mode = st.radio("Path", ["slerp", "lerp"], key="ip_mode", persist_state="session")
    frames = st.slider("Frames", 4, 24, 12, key="ip_frames", persist_state="session")


@st.cache_data(show_spinner=False, max_entries=32)
def path(model, prior_name, spec_a, spec_b, mode, frames, ver):
    m = core_models.loaded(model, prior_name)
    a = endpoint(m.G, m.prior, spec_a, m.conditional)
    b = endpoint(m.G, m.prior, spec_b, m.conditional)
    out = interpolate(m.G, a, b, frames=frames, mode=mode)
    ends = [{"about": e.about, "warning": e.warning,
             "pair": None if e.real is None else torch.stack([e.real, e.recon]).numpy()} for e in (a, b)]
    return ends, out["images"].numpy(), out["labels"].numpy(), out["confidence"].numpy()


with guard("Interpolation"), st.spinner("Building the path (a real digit is inverted first: a few seconds)…"):
    ends, imgs, labels, conf = path(model, prior_name, spec_a, spec_b, mode, int(frames), version(model, prior_name))

st.caption(f"{ends[0]['about']} → {ends[1]['about']}")
if st.button("Edit the start along a direction", key="ip_to_directions", icon=":material/explore:",
             help="open it on the Directions page"):
    st.session_state["dir_digit"] = spec_a
    goto("views/directions.py", model)
for side, end in zip(("From", "To"), ends):  # an inverted real digit: the digit beside what the generator made
    if end["pair"] is not None:
        c1, c2 = st.columns([1, 4])
        with c1:
            show_grid(end["pair"], nrow=2, width=112, caption=f"{side}: real | inverted")
        with c2:
            if end["warning"]:
                st.warning(f"{side}: {end['warning']}.", icon=":material/warning:")
            else:
                st.caption(f"{side}: the inversion reads as the same digit as the real one.")
t = st.slider("Position along the path", 0, int(frames) - 1, 0, key="ip_t", persist_state="session")
left, right = st.columns([1, 3])
with left:
    big = to_uint8(torch.from_numpy(imgs[t])).numpy().reshape(28, 28).repeat(6, 0).repeat(6, 1)  # crisp pixels
    st.image(big, width=168,
             caption=f"frame {t}: reads as {labels[t]} ({conf[t]:.0%})")
with right:
    fig = go.Figure(go.Scatter(x=list(range(len(conf))), y=conf, mode="lines+markers+text",
                               text=[str(v) for v in labels], textposition="top center"))
    tidy(fig, 220, yaxis=dict(range=[0, 1.1], title="confidence"),
                      xaxis=dict(title="frame", dtick=1))
    st.plotly_chart(fig, key="ip_conf")
show_grid(imgs, nrow=len(imgs), width=min(1000, 56 * len(imgs)), caption="the strip", download=f"interp_{model}")

gif = gif_bytes(imgs)  # the path played forth and back
st.image(gif, caption="animated", width=112)
st.download_button("GIF", gif, file_name=f"interp_{model}.gif", mime="image/gif", key="ip_gif",
                   icon=":material/download:")
