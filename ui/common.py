"""Streamlit glue shared by the pages: cached loaders, the model picker, error display and
download helpers. No GAN logic lives here — that is all in `core/`."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import streamlit as st

from core.dashboard import catalog as core_models
from core.errors import LabError
from core.eval.names import METRICS
from core.store.images import grid, grid_png_bytes
from ui.components import PALETTE

PAGES = {  # file -> (title, icon)
    "views/overview.py": ("Overview", ":material/leaderboard:"),
    "views/train.py": ("Train", ":material/model_training:"),
    "views/compare.py": ("Compare", ":material/compare:"),
    "views/timeline.py": ("Timeline", ":material/timeline:"),
    "views/latent_map.py": ("Latent map", ":material/scatter_plot:"),
    "views/classes.py": ("Classes", ":material/bar_chart:"),
    "views/gmm_editor.py": ("GMM editor", ":material/open_with:"),
    "views/refine.py": ("Refine", ":material/auto_fix_high:"),
    "views/interpolate.py": ("Interpolate", ":material/linear_scale:"),
    "views/directions.py": ("Directions", ":material/explore:"),
    "views/sweep.py": ("Sweeps", ":material/grid_view:"),
    "views/findings.py": ("Findings", ":material/fact_check:"),
}
# components of a mixture prior are not digits: their own palette (dark, unlike the digit colours)
COMPONENT_COLOURS = ["#000000", "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
                     "#9a6324", "#808000", "#469990", "#800000"]
CLASS_COLOURS = PALETTE  # the digits' colours, one definition (core.store.images.DIGIT_COLOURS)


@contextlib.contextmanager
def guard(what: str = "This view", stop: bool = True):
    """Show a Latent Lab error as one short message instead of a traceback; then stop the page
    (or, with stop=False, skip just this block and carry on)."""
    try:
        yield
    except LabError as exc:
        st.error(f"{what}: {exc}", icon=":material/error:")
        if stop:
            st.stop()


@st.cache_data(ttl=5, show_spinner=False)
def model_rows() -> list[dict]:
    return core_models.list_models()


@st.cache_data(ttl=5, show_spinner=False)
def usable_models() -> list[str]:
    return core_models.usable(model_rows())


def pick_model(label: str = "Model", key: str = "model", options: list[str] | None = None,
               sidebar: bool = True, help: str | None = None, only: str | None = None) -> str:
    """A model selector that remembers the choice across pages (st.session_state['model']).
    A page that can show only some models (`options`, described by `only`, e.g. "mixture-prior
    models") and not the chosen one says so and lets the user pick one here, without changing
    the choice that follows them to the other pages."""
    options = options if options is not None else usable_models()
    if not options:
        st.info("No models yet: the zoo is empty and no run has a checkpoint. Train one on the Train page.")
        st.stop()
    current = st.session_state.get("model")
    where = st.sidebar if sidebar else st
    if key == "model" and current and current not in options:
        where.info(f"**{current}**, the model you chose, cannot be shown here"
                   + (f": this page shows {only} only" if only else "") + ". Pick one for this page; "
                   f"the other pages keep {current}.", icon=":material/info:")
        return where.selectbox(label, options, key=f"pick_{key}_here", help=help)
    index = options.index(current) if current in options else 0
    choice = where.selectbox(label, options, index=index, key=f"pick_{key}", help=help)
    if key == "model":
        st.session_state["model"] = choice
    return choice


def pick_prior(model: str, where=st.sidebar) -> str | None:
    """The model's own prior or one refitted by EM (`python -m core invert`)."""
    from core.store.registry import list_priors
    try:
        fitted = list_priors(model)
    except LabError:
        fitted = []
    if not fitted:
        return None
    from core.store.registry import prior_meta, prior_mismatch, refit_command
    choice = where.selectbox("Prior", ["trained prior", *fitted], key=f"prior_{model}", persist_state="session",
                             help="priors refitted by EM on inverted real digits")
    if choice == "trained prior":
        return None
    meta = prior_meta(model, choice)
    if (why := prior_mismatch(model, meta)) is not None:  # never sample a generator with another one's prior
        where.warning(f"Prior {choice} {why}, so the trained prior is used. Refit it: "
                      f"`{refit_command(model, choice, meta)}`", icon=":material/warning:")
        return None
    split = meta.get("split", "unknown")
    where.caption(f"EM refit on {meta.get('n', '?')} inverted {split} digits"
                  + (" — the split scores are measured against: its scores flatter it" if split == "test" else
                     "; scored against the test split"))
    return choice


def version(model: str, prior: str | None = None) -> str:
    """Changes when the model's checkpoint or prior file is rewritten: part of every cache key."""
    return core_models.version(model, prior)


@st.cache_data(show_spinner=False, max_entries=64)
def _digits(model: str, n: int, seed: int, prior: str | None, ver: str):
    x, y = core_models.shared_noise_digits(model, n, seed, prior)
    return x.numpy(), (None if y is None else y.numpy())


def digits(model: str, n: int, seed: int, prior: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """n digits of a model from the seed's noise, as numpy; cached per model, n, seed, prior
    and checkpoint/prior file version (a training run's digits follow its checkpoints)."""
    return _digits(model, n, seed, prior, version(model, prior))


def show_grid(images, caption: str | None = None, nrow: int = 10, width: int | None = None,
              download: str | None = None):
    img = grid(images, nrow=nrow)
    st.image(img, caption=caption, width=width or "content")
    if download:
        st.download_button("PNG", grid_png_bytes(images, nrow=nrow), file_name=f"{download}.png",
                           mime="image/png", key=f"dl_{download}", icon=":material/download:")


def csv_button(df: pd.DataFrame, name: str, label: str = "CSV"):
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    st.download_button(label, buf.getvalue(), file_name=f"{name}.csv", mime="text/csv", key=f"csv_{name}",
                       icon=":material/download:")


def goto(page: str, model: str | None = None):
    if model:
        st.session_state["model"] = model
    st.switch_page(page)


def tidy(fig, height: int, **layout):
    """One layout for every chart: the mode bar gets the top margin to itself and the legend
    sits right of the plot, top-aligned, so neither hides the other (or the data)."""
    top = 44 if layout.get("title") else 30
    if isinstance(layout.get("title"), str):  # left-aligned: the mode bar (top right) never covers it
        layout["title"] = dict(text=layout["title"], x=0.01, xanchor="left")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=top, b=10),
                      legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top"), **layout)
    return fig


MISSING = "–"  # what a table shows where a value does not apply or is not there yet (never "None")
ROW_PX = 35  # st.dataframe's default row (and header) height


def table_height(rows: int) -> int:
    """An st.dataframe height that shows every row without an inner scroll, with room under the
    last row for the horizontal scrollbar a wide table gets (it would cover that row)."""
    return ROW_PX * (rows + 1) + 3 + 20


def leaderboard_view(df: pd.DataFrame) -> pd.DataFrame:
    """Scores rounded for reading, numbers kept numeric (columns still sort); show it with
    st.dataframe(..., placeholder=MISSING)."""
    df = df.copy()
    for c in (*METRICS, "cond_acc", "ppl", "separability", "authenticity", "epochs", "train_min"):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return fmt_scores(df)


def fmt_scores(df: pd.DataFrame) -> pd.DataFrame:
    return df.round({**{k: 3 for k in METRICS}, "class_kl": 4, "cond_acc": 3, "ppl": 1, "separability": 3,
                     "authenticity": 3})
