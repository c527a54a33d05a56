"""Latent map: t-SNE / UMAP / PCA of generated digits, coloured by inferred label (or the
requested class / mixture component); hovering shows the digit; a box or lasso selection
shows the chosen digits enlarged."""
import numpy as np
import streamlit as st

from core.embed import model_map
from ui.common import guard, pick_model, pick_prior, show_grid, version
from ui.components import digits_to_png_b64, hover_scatter

st.title("Latent map")
model = pick_model()
prior = pick_prior(model)
sb = st.sidebar
method = sb.radio("Projection", ["umap", "tsne", "pca"], key="map_method",
                  format_func={"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}.get)
space = sb.radio("Space", ["features", "pixels", "latent"], key="map_space",
                 format_func={"features": "classifier features", "pixels": "pixels", "latent": "latent codes"}.get)
n = sb.select_slider("Generated digits", [500, 1000, 2000, 5000, 10000], value=2000, key="map_n")
real = 0 if space == "latent" else sb.select_slider("Real test digits overlaid", [0, 500, 1000, 2000], value=0,
                                                     key="map_real")
colour = sb.radio("Colour by", ["inferred label", "component / class asked for", "real vs generated"],
                  key="map_colour", help="for real digits, 'component / class' is their true label")
seed = sb.number_input("Seed", value=0, step=1, key="map_seed")


@st.cache_data(show_spinner=False, max_entries=8)
def cached_map(model, n, space, method, real, seed, prior, ver):
    res = model_map(model, n=n, space=space, method=method, real=real, seed=seed, prior=prior)
    res["png"] = digits_to_png_b64(res["images"].reshape(-1, 28, 28))
    return res


with guard("Map"), st.spinner(f"Projecting {n + real} digits with {method.upper()} (cached after the first time)…"):
    res = cached_map(model, int(n), space, method, int(real), int(seed), prior, version(model, prior))

st.caption({"features": "Digits are placed by the classifier's 128-d features of each generated digit: "
                        "neighbours look alike to the classifier.",
            "pixels": "Digits are placed by their raw pixels.",
            "latent": "Digits are placed by the latent code z the generator was given."}[space])
names = None
if colour == "inferred label":
    cats = res["label"]
elif colour == "real vs generated":
    cats, names = (res["source"] == "real").astype(int), {0: "generated", 1: "real"}
else:
    cats = res["component"]
text = [f"{'real' if s == 'real' else 'generated'} · label {l} ({c:.0%})" + (f" · component {k}" if k >= 0 else "")
        for s, l, c, k in zip(res["source"], res["label"], res["confidence"], res["component"])]
if real and colour != "real vs generated":
    st.caption("Real and generated digits share the colours; colour by 'real vs generated' to tell them apart.")
sel = hover_scatter(res["xy"][:, 0], res["xy"][:, 1], cats, res["png"], text,
                    key=f"map_{model}_{method}_{space}_{n}_{real}_{seed}_{prior}",  # a selection belongs to one map
                    title=f"{model} · {method.upper()} of {space}", category_names=names)
conf = res["confidence"]
c1, c2, c3 = st.columns(3)
c1.metric("digits", len(conf))
c2.metric("mean confidence", f"{conf.mean():.3f}")
c3.metric("below 0.5 confidence", f"{(conf < 0.5).mean():.1%}")
if sel and sel.get("selected"):
    idx = np.asarray([i for i in sel["selected"] if 0 <= i < len(res["images"])][:100], dtype=int)
    st.subheader(f"Selected: {len(sel['selected'])} digits" + (" (first 100)" if len(sel["selected"]) > 100 else ""))
    show_grid(res["images"][idx], nrow=10, width=560, download="map_selection")
else:
    st.caption("Drag a box or lasso on the map to see those digits enlarged.")
