"""Latent map: t-SNE / UMAP / PCA of generated digits, coloured by inferred label (or the
requested class / mixture component); hovering shows the digit; a box or lasso selection
shows the chosen digits enlarged."""
import numpy as np
import pandas as pd
import streamlit as st

from core.dashboard import catalog as core_models
from core.explore.maps import map_search, model_map, selection_summary
from ui.common import csv_button, goto, guard, pick_model, pick_prior, show_grid, version
from ui.components import digits_to_png_b64, hover_scatter

st.title("Latent map")
model = pick_model()
prior = pick_prior(model)
sb = st.sidebar
METHOD_NAMES = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
method = sb.radio("Projection", ["umap", "tsne", "pca"], key="map_method", persist_state="session", format_func=METHOD_NAMES.get)
space = sb.radio("Space", ["features", "pixels", "latent"], key="map_space", persist_state="session",
                 format_func={"features": "classifier features", "pixels": "pixels", "latent": "latent codes"}.get)
n = sb.select_slider("Generated digits", [500, 1000, 2000, 5000, 10000], value=1000, key="map_n", persist_state="session")
real = 0 if space == "latent" else sb.select_slider("Real test digits overlaid", [0, 500, 1000, 2000], value=0,
                                                     key="map_real", persist_state="session")
colour = sb.radio("Colour by", ["inferred label", "component / class asked for", "real vs generated"],
                  key="map_colour", persist_state="session", help="for real digits, 'component / class' is their true label")
seed = sb.number_input("Seed", value=0, step=1, key="map_seed", persist_state="session")


@st.cache_data(show_spinner=False, max_entries=8)
def cached_map(model, n, space, method, real, seed, prior, ver):
    res = model_map(model, n=n, space=space, method=method, real=real, seed=seed, prior=prior)
    res["png"] = digits_to_png_b64(res["images"].reshape(-1, 28, 28))
    return res


with guard("Map"), st.spinner(f"Projecting {n + real} digits with {METHOD_NAMES[method]} (cached after the first time)…"):
    res = cached_map(model, int(n), space, method, int(real), int(seed), prior, version(model, prior))

st.caption({"features": "Digits are placed by the classifier's 128-d features of each generated digit: "
                        "neighbours look alike to the classifier.",
            "pixels": "Digits are placed by their raw pixels.",
            "latent": "Digits are placed by the latent code z the generator was given."}[space])
names = None
if colour == "inferred label":
    cats, legend = res["label"], "digit the classifier reads"
elif colour == "real vs generated":
    cats, names, legend = (res["source"] == "real").astype(int), {0: "generated", 1: "real"}, "source"
else:
    cats = res["component"]
    legend = "class asked for" if core_models.loaded(model, prior).conditional else "mixture component"
    if real:
        legend += " (real: true digit)"
text = [f"#{i} · {'real' if s == 'real' else 'generated'} · label {l} ({c:.0%})"
        + (f" · component {k}" if k >= 0 else "")
        for i, (s, l, c, k) in enumerate(zip(res["source"], res["label"], res["confidence"], res["component"]))]
if real and colour != "real vs generated":
    st.caption("Real and generated digits share the colours; colour by 'real vs generated' to tell them apart.")
if len(res["explained"]):
    ev = res["explained"]
    st.caption(f"PCA keeps {ev[:2].sum():.1%} of the variance in these two axes (PC1 {ev[0]:.1%}, PC2 {ev[1]:.1%}; "
               f"the next: " + ", ".join(f"{v:.1%}" for v in ev[2:6]) + ").")


@st.fragment  # a lasso, a filter or a search reruns only this part: the map and digits are cached above
def explore():
    f1, f2, f3 = st.columns([3, 1, 1])
    shown_labels = f1.multiselect("Show digits read as", list(range(10)), default=list(range(10)),
                                  key="map_filter", persist_state="session")
    by = f2.selectbox("Search", ["off", "class read", "digit index"], key="map_search_by",
                      help="class read: ring every digit read as that class; digit index: ring one digit "
                           "(the # in its hover text) and its 8 nearest neighbours on the map")
    value = (f3.selectbox("Class read", list(range(10)), key="map_search_class") if by == "class read" else
             f3.number_input("Digit #", min_value=0, max_value=len(res["xy"]) - 1, value=0, step=1,
                             key="map_search_index") if by == "digit index" else None)
    where = np.flatnonzero(np.isin(res["label"], shown_labels))
    if not len(where):
        st.info("No digit is read as the labels picked: pick at least one.")
        return
    found = None
    if value is not None:
        with guard("Search", stop=False):
            found = map_search(res, "class" if by == "class read" else "index", int(value))
    pos = {int(orig): j for j, orig in enumerate(where)}  # map index -> position among the shown points
    marks = {k: [pos[i] for i in found[k] if i in pos] for k in ("matches", "focus", "neighbours")} if found else None
    sel = hover_scatter(res["xy"][where, 0], res["xy"][where, 1], np.asarray(cats)[where],
                        [res["png"][i] for i in where], [text[i] for i in where],
                        key=f"map_{model}_{method}_{space}_{n}_{real}_{seed}_{prior}_{'-'.join(map(str, shown_labels))}",
                        title=f"{model} · {METHOD_NAMES[method]} of {space}", category_names=names,
                        legend_title=legend, marks=marks)
    if found:
        hidden = sum(len(found[k]) for k in ("matches", "focus", "neighbours")) - sum(map(len, marks.values()))
        st.caption(f"Search: {found['caption']}, ringed on the map"
                   + (f" ({hidden} hidden by the label filter)" if hidden else "") + ".")
        ids = (found["focus"] + found["neighbours"]) or found["matches"][:50]
        show_grid(res["images"][ids], nrow=min(len(ids), 10) or 1, width=56 * min(len(ids), 10),
                  caption=" · ".join(f"#{i} {res['label'][i]}" for i in ids[:10]) + (" …" if len(ids) > 10 else ""))
        if by == "digit index" and int(value) < n and st.button(  # a generated digit: its code is the map's own
                f"Edit digit #{int(value)} along a direction", key="map_to_directions", icon=":material/explore:"):
            st.session_state["dir_digit"] = f"map:{n}:{seed}:{int(value)}"
            goto("views/directions.py", model)
    for tag, source in (("fake", "generated"), ("real", "real")):  # never one number for two populations
        conf = res["confidence"][res["source"] == tag]
        if not len(conf):
            continue
        c1, c2, c3 = st.columns(3)
        c1.metric(f"{source} digits", len(conf))
        c2.metric(f"mean confidence ({source})", f"{conf.mean():.3f}")
        c3.metric(f"below 0.5 confidence ({source})", f"{(conf < 0.5).mean():.1%}")
    picked = [int(where[i]) for i in (sel or {}).get("selected", []) if 0 <= i < len(where)]
    if not picked:
        st.caption("Drag a box or lasso on the map to see those digits enlarged, with their statistics.")
        return
    summary = selection_summary(res, picked)
    st.subheader(f"Selected: {summary['n']} digits" + (" (first 100 shown)" if summary["n"] > 100 else ""))
    for source, s in summary["by_source"].items():
        st.caption(f"{source}: {s['n']} digits, mean confidence {s['mean_confidence']:.3f}; read as "
                   + ", ".join(f"{d} ({c})" for d, c in s["labels"].items()))
    show_grid(res["images"][picked[:100]], nrow=10, width=560, download="map_selection")
    csv_button(pd.DataFrame(summary["rows"]), f"map_selection_{model}", "Selection CSV")
    first = next((i for i in picked if i < n), None)  # a generated digit: its code is the map's own
    if first is not None and st.button(f"Edit digit #{first} (the first selected) along a direction",
                                       key="map_selection_to_directions", icon=":material/explore:"):
        st.session_state["dir_digit"] = f"map:{n}:{seed}:{first}"
        goto("views/directions.py", model)


explore()
