"""Latent Lab — the dashboard. Run with `make run` (or `streamlit run app.py`).

Pages are thin views over `core/` (see ui/common.py for the shared Streamlit glue)."""
import threading
import time

import streamlit as st

from core.heap import trim_heap
from ui.common import PAGES

st.set_page_config(page_title="Latent Lab", page_icon="🧪", layout="wide")
WARM_UP_DELAY_S = 4.0  # after the first page's script: its browser rendering first, then UMAP's kernels (~6 s)


@st.cache_resource(show_spinner=False)
def _warm_up_umap():
    """Once per server, in the background: import torch and the map code (the first page is drawn
    without them), then load umap's kernels in the projection worker (core.explore.projector), so
    the first map is quick and numba never enters the server's memory."""
    import core.explore.projector
    core.explore.projector.OUT_OF_PROCESS = True

    def later():  # the browser is still drawing the first page (on a 2-core machine it shares the CPU)
        time.sleep(WARM_UP_DELAY_S)
        import core.eval.score  # noqa: F401 - torch, the classifier and the networks: what every other page needs
        import core.gan.nets  # noqa: F401
        from core.explore.maps import warm_up
        warm_up()

    t = threading.Thread(target=later, daemon=True)
    t.start()
    return t


@st.cache_resource(show_spinner=False)
def _lean_allocator() -> bool:
    """Once per server: transient buffers go back to the OS (core.heap.lean_server_allocator)."""
    from core.heap import lean_server_allocator
    return lean_server_allocator()


_lean_allocator()
nav = st.navigation([st.Page(path, title=title, icon=icon, default=(i == 0))
                     for i, (path, (title, icon)) in enumerate(PAGES.items())])
st.sidebar.caption("Latent Lab · GANs on MNIST · metrics in the MNIST classifier's feature space")
try:
    nav.run()
finally:  # what this run freed goes back to the OS, also when the page stops or reruns
    trim_heap()
    _warm_up_umap()  # after the first page is drawn, so that page does not share the CPU with it
