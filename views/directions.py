"""Directions: which ways through z change what — SeFa, GANSpace PCA or the class boundaries
(core/explore/directions.py) — and a strength slider that moves fixed digits along one."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from core.dashboard import catalog as core_models
from core.explore import directions as core_dirs
from core.explore.latent_scores import cached_latent, closest_pairs, latent_scores
from ui.common import csv_button, guard, pick_model, pick_prior, show_grid, tidy, version
from ui.components import hover_scatter

METHOD_NAMES = {"sefa": "SeFa (first layer's singular vectors)", "pca": "GANSpace PCA (first hidden layer)",
                "class": "class boundaries (InterFaceGAN)"}
st.title("Directions")
model = pick_model()
prior = pick_prior(model)
sb = st.sidebar
method = sb.radio("Method", core_dirs.METHODS, key="dir_method", persist_state="session", format_func=METHOD_NAMES.get)
k = 10 if method == "class" else sb.slider("Directions", 1, 20, 10, key="dir_k", persist_state="session")
codes = sb.select_slider("Digits edited", [8, 16, 32], value=16, key="dir_codes", persist_state="session")


@st.cache_data(show_spinner=False, max_entries=8)
def found(model, method, k, prior, ver):
    m = core_models.loaded(model, prior)
    d = core_dirs.find(m.G, m.prior, method, k)
    return d, core_dirs.measure(m.G, m.prior, d)


with guard("Directions"), st.spinner(f"Finding {k} directions and measuring each on fixed digits…"):
    d, rows = found(model, method, int(k), prior, version(model, prior))
cosines = [v for v in d.extra.get("cosine_to_means") or [] if v is not None]
st.caption(d.about + (f" · linear separability of the digits in z: **{d.extra['separability']:.3f}** held-out "
                      "accuracy" if "separability" in d.extra else "")
           + (f" · mean cosine of a digit's direction with the way to the means of the components that make it: "
              f"**{np.mean(cosines):.2f}**" if cosines else ""))

labels = [f"#{i}" + (f" · digit {t}" if d.targets and t is not None else
                     " · no such digit made" if d.targets else "") for i, t in enumerate(d.targets or [None] * len(d))]
index = st.selectbox("Direction", range(len(d)), format_func=lambda i: labels[i], key="dir_index")
strength = st.slider("Strength (× σ along it)", -4.0, 4.0, 2.0, 0.25, key="dir_strength",
                     help="the edit is z + strength · σ · u, with σ the prior's spread along the direction u")
with guard("Edit"):
    m = core_models.loaded(model, prior)
    res = core_dirs.edit_grid(m.G, m.prior, d, int(index), [0.0, float(strength)], seeds=int(codes))
before, after = res["images"][0::2], res["images"][1::2]
lab0, lab1 = res["labels"][0::2], res["labels"][1::2]
c1, c2 = st.columns(2)
with c1:
    show_grid(before, caption="before: " + " ".join(map(str, lab0)), nrow=8, width=320)
with c2:
    show_grid(after, caption=f"{strength:+g}σ: " + " ".join(map(str, lab1)), nrow=8, width=320,
              download=f"edit_{model}_{method}_{index}")
st.caption(f"{int((lab0 != lab1).sum())} of {len(lab0)} digits now read as another digit.")

if "dir_digit_next" in st.session_state:  # an atlas cell picked below, on the previous run
    st.session_state["dir_digit"] = st.session_state.pop("dir_digit_next")
one = st.text_input("Edit one digit", key="dir_digit",
                    placeholder="class:3, random:7, real:12, map:N:SEED:I or atlas:RES:I:A,B,C",
                    help="a digit of your own (Interpolate's endpoints, or a Latent map digit: both pages send theirs "
                         "here), moved along this direction from −4σ to +4σ")
if one:
    with guard("That digit", stop=False):
        z1, y1, about = core_dirs.code_of(m.G, m.prior, one.strip(), m.conditional)
        strip = core_dirs.edit_code(m.G, d, z1, y1, int(index), np.linspace(-4, 4, 9))
        show_grid(strip["images"], nrow=9, width=9 * 56, download=f"edit_one_{model}")
        st.caption(f"{about}: −4σ … +4σ reads as " + " ".join(map(str, strip["labels"])))

row = rows[int(index)]
st.subheader("What this direction does")
st.caption(f"On {core_dirs.CODES} fixed digits at strengths {', '.join(f'{s:+g}' for s in row['strengths'])} σ: "
           f"the digit read changes in {row['class_change']:.0%} of edits"
           + (f"; {row['hit_rate']:.0%} of the +{max(row['strengths']):g}σ edits land on digit {row['target']}"
              if row.get("hit_rate") is not None else "")
           + f"; the edits at the largest strength sit at {row['shell']:.2f}× the codes' usual norm.")
t = np.array(row["transitions"])
fig = go.Figure(go.Heatmap(z=t, x=list(range(10)), y=list(range(10)), colorscale="Blues",
                           hovertemplate="%{y} → %{x}: %{z}<extra></extra>"))
tidy(fig, 360, xaxis=dict(title="digit after", dtick=1), yaxis=dict(title="digit before", dtick=1, autorange="reversed"))
st.plotly_chart(fig, key="dir_transitions")

st.subheader("Every direction")
table = pd.DataFrame([{"direction": labels[r["index"]], "σ": r["sigma"], "digit changed": r["class_change"],
                       "feature change": r["feature_change"], "shell": r["shell"],
                       **({"hit rate": r["hit_rate"]} if "hit_rate" in r else {})} for r in rows])
st.dataframe(table, hide_index=True, width="stretch")
csv_button(table, f"directions_{model}_{method}")
st.caption(f"The same from the command line: `python -m core directions {model} --method {method}"
           + ("" if method == "class" else f" --k {k}") + "` and `python -m core edit … --direction I`.")

st.subheader("An atlas of the latent space")
st.caption("The plane through three codes (Interpolate's endpoints: random:SEED, class:C, component:K, real:I), decoded "
           "cell by cell: each cell in the colour of the digit read there, paler where the classifier is less sure, the "
           "boundaries between digits in black; A, B and C ringed. Beside it, the same cells as points: hover one "
           "for its digit, box-select one to edit it along the direction above.")
a1, a2, a3, a4 = st.columns([2, 2, 2, 1])
through = [a1.text_input("A", "class:1", key="atlas_a"), a2.text_input("B", "class:7", key="atlas_b"),
           a3.text_input("C", "class:0", key="atlas_c")]
res_n = a4.select_slider("Cells", [16, 32, 64], value=32, key="atlas_res")


@st.cache_data(show_spinner=False, max_entries=8)
def drawn_atlas(model, through, res_n, prior, ver):
    from core.explore.atlas import atlas, atlas_image
    from core.store.mnist import to_uint8
    from ui.common import CLASS_COLOURS
    from ui.components import digits_to_png_b64
    res = atlas(model, list(through), res=res_n, prior=prior)
    png = digits_to_png_b64(to_uint8(res["images"]).numpy())
    return res, atlas_image(res, CLASS_COLOURS, scale=max(4, 384 // res_n)), png


with guard("Atlas"), st.spinner(f"Decoding {res_n}×{res_n} cells…"):
    res, img, png = drawn_atlas(model, tuple(through), int(res_n), prior, version(model, prior))
    b1, b2 = st.columns(2)
    b1.image(img, caption=" · ".join(f"{n}: {about}" for n, about in zip("ABC", res["about"])))
    n_cells = int(res_n)
    with b2:
        rows_, cols_ = np.divmod(np.arange(n_cells * n_cells), n_cells)
        picked = hover_scatter(cols_, -rows_, res["labels"], png,
                               [f"cell ({r}, {c}) · reads {lab} ({conf:.0%})" for r, c, lab, conf in
                                zip(rows_, cols_, res["labels"], res["confidence"])],
                               key=f"atlas_{model}_{'_'.join(through)}_{n_cells}", height=420,
                               marker_size=max(4, 300 // n_cells), dragmode="select", legend_title="digit read")
    owned = sorted(((s, d) for d, s in enumerate(res["share"]) if s), reverse=True)
    st.caption("Share of the plane: " + "  ".join(f"**{d}** {s:.0%}" for s, d in owned)
               + f" · boundary {res['boundary_length']:.1f} (z units) · hybrid cells {res['hybrid_share']:.0%}"
               + f" · `python -m core atlas {model} --through {','.join(through)} --res {res_n}`")
    cells = (picked or {}).get("selected", [])
    if cells and st.button(f"Edit cell {tuple(divmod(int(cells[0]), n_cells))} along the direction above",
                           key="atlas_to_edit", icon=":material/explore:"):
        st.session_state["dir_digit_next"] = f"atlas:{n_cells}:{int(cells[0])}:{','.join(through)}"
        st.rerun()  # the "Edit one digit" box above takes it before it is drawn

st.subheader("Invented or copied? The digits closest to the training set")
lat = cached_latent(model) if prior is None else None
if lat is None and st.button("Measure the latent numbers (PPL, separability, authenticity: about a minute)",
                             key="dir_measure"):
    with guard("Latent numbers"), st.spinner("Measuring (the first time also finds every training digit's neighbour)…"):
        lat = latent_scores(model, prior=prior)
if lat is None:
    st.caption(f"Not measured for {model} yet: the button above, or `python -m core score {model} --latent`.")
else:
    st.caption(f"Authenticity {lat['authenticity']:.3f} in classifier features, {lat['authenticity_pixels']:.3f} in pixels "
               f"(Alaa et al. 2022: the share of {lat['n']} digits that are not closer to a training digit than that "
               f"digit is to its own nearest neighbour) · PPL {lat['ppl']:.1f} · separability {lat['separability']:.3f}. "
               "Below: the 16 likeliest copies (top) above their nearest training digits (bottom).")
    with guard("Closest digits", stop=False):
        gen, twins = closest_pairs(model, lat["closest_features"], seed=lat["seed"], n=lat["n"], prior=prior)
        show_grid(torch.cat([gen, twins]), nrow=16, width=16 * 42, download=f"closest_{model}")
