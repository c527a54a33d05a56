"""Latent Lab — the dashboard. Run with `make run` (or `streamlit run app.py`).

Pages are thin views over `core/` (see ui/common.py for the shared Streamlit glue)."""
import threading

import streamlit as st

from ui.common import PAGES

st.set_page_config(page_title="Latent Lab", page_icon="🧪", layout="wide")


@st.cache_resource(show_spinner=False)
def _warm_up_umap():
    """Compile umap's kernels in the background once per server, so the first map is quick."""
    from core.embed import warm_up
    t = threading.Thread(target=warm_up, daemon=True)
    t.start()
    return t


_warm_up_umap()
nav = st.navigation([st.Page(path, title=title, icon=icon, default=(i == 0))
                     for i, (path, (title, icon)) in enumerate(PAGES.items())])
st.sidebar.caption("Latent Lab · GANs on MNIST · metrics in the MNIST classifier's feature space")
nav.run()
