"""Overview's "Import a model": upload a generator (and its critic) in the course's layout or
this project's, name it, and it joins every model picker (all logic in core.store.importer)."""
import streamlit as st

from core.store import importer
from core.store.registry import list_imported
from ui.common import guard, model_rows, usable_models


def import_panel() -> None:
    flash = st.session_state.pop("import_flash", None)  # set before the rerun that lists the new model
    with st.expander("Import a model (your own G.pth, and D.pth for refinement)", expanded=flash is not None):
        if flash:
            st.success(flash, icon=":material/check:")
        st.caption("A `state_dict` per network, saved with `torch.save(G.state_dict(), 'G.pth')`: the course's "
                   "layout (fc1 … fcN: G z → … → 784 with LeakyReLU 0.2 and tanh, D 784 → … → 1) or this "
                   "project's; one file holding {'G': …, 'D': …}; or a Latent Lab checkpoint. Hidden and z sizes "
                   f"are read from the shapes; files are read with weights_only=True (up to "
                   f"{min(importer.MAX_BYTES // 2**20, st.get_option('server.maxUploadSize'))} MiB each) and "
                   "sampled from N(0, I).")
        with st.form("import_form", clear_on_submit=False):
            g = st.file_uploader("Generator (G.pth)", type=["pth", "pt"], key="import_g")
            d = st.file_uploader("Critic (D.pth, optional)", type=["pth", "pt"], key="import_d")
            c1, c2, c3 = st.columns(3)
            name = c1.text_input("Name", placeholder="my-gan", help="letters, digits, '.', '_' or '-'")
            out = c2.radio("D's forward returns", importer.CRITIC_OUTPUTS, horizontal=True,
                           help="the course's D ends in a sigmoid; the logit DRS needs is its last layer's "
                                "output either way")
            loss = c3.selectbox("D was trained with", list(importer.LOSSES),
                                help="bce: its logit estimates the density ratio DRS assumes")
            force = st.checkbox("Replace an imported model of this name")
            go = st.form_submit_button("Import", type="primary")
        if go:
            if g is None:
                st.warning("Choose a generator file first.")
            else:
                with guard("Import", stop=False), st.spinner("Checking and registering…"):
                    res = importer.import_upload((g.name, g.getvalue()), (d.name, d.getvalue()) if d else None,
                                                 name=name.strip() or None, critic_output=out, loss=loss,
                                                 force=force)
                    model_rows.clear()
                    usable_models.clear()
                    st.session_state["model"] = res["name"]
                    st.session_state["import_flash"] = (
                        f"Imported **{res['name']}** ({res['layout']} layout, z {res['z_dim']}, "
                        f"{'with' if res['critic'] else 'no'} critic): it is now in every model picker and below.")
                    st.rerun()  # the leaderboard and grids above were drawn before the import
        have = list_imported()
        if have:
            c1, c2 = st.columns([3, 1])
            gone = c1.selectbox("Imported models", have, key="import_remove_pick")
            if c2.button("Remove", key="import_remove"):
                with guard("Remove", stop=False):
                    importer.remove(gone)
                    model_rows.clear()
                    usable_models.clear()
                    st.rerun()
