"""The plotly.js custom components in ui/components: files, AppTest round trip, real browser."""
import base64
import hashlib
import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.components as uic

from browser_support import ARGS, CHROMIUM, SCREENS, browser_or_skip, streamlit_server
from helpers import ROOT

# ------------------------------------------------------------------ files and helpers

def test_component_folder_holds_real_files():
    uic.ensure_plotly_js()  # copied from the pinned plotly package, not kept in git
    front = uic.FRONTEND
    assert front.is_dir() and front == ROOT / "ui" / "components" / "frontend"
    for name in ("index.html", "main.js", "plotly.min.js"):
        f = front / name
        assert f.is_file() and not f.is_symlink(), name  # the component server refuses symlinks
    assert (front / "plotly.min.js").stat().st_size > 1_000_000
    html = (front / "index.html").read_text()
    assert 'src="plotly.min.js"' in html and 'src="main.js"' in html
    assert uic.COMPONENT_NAME == "ui.components.latent_lab_plot"
    comp = uic._component()
    assert comp.name == uic.COMPONENT_NAME and Path(comp.abspath) == front


def test_digits_to_png_b64_makes_28x28_greyscale_pngs():
    import numpy as np
    imgs = np.zeros((2, 28, 28), np.uint8)
    imgs[0, 5:20, 10:14] = 255
    out = uic.digits_to_png_b64(imgs)
    assert len(out) == 2
    png = base64.b64decode(out[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[16:24] == (28).to_bytes(4, "big") * 2
    import io

    from PIL import Image
    back = np.asarray(Image.open(io.BytesIO(png)))
    assert back.shape == (28, 28) and (back == imgs[0]).all()
    assert uic.digits_to_png_b64(imgs.astype(np.float32) / 255) == out


# ------------------------------------------------------------------ AppTest (no JavaScript)

DRAG_SCRIPT = """
import json
import streamlit as st
from ui.components import drag_points
v = drag_points([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]], labels=["a", "b", "c"], key="dp",
                xrange=[-3, 3], yrange=[-3, 3], title="means")
st.text("DRAG=" + json.dumps(v))
"""

HOVER_SCRIPT = """
import json
import streamlit as st
from ui.components import hover_scatter, digits_to_png_b64
import numpy as np
imgs = digits_to_png_b64(np.zeros((4, 28, 28), np.uint8))
v = hover_scatter([0, 1, 2, 3], [0, 1, 0, 1], [0, 1, -1, 9], imgs, ["p0", "p1", "p2", "p3"],
                  key="hs", title="cloud")
st.text("SEL=" + json.dumps(v))
"""


def _texts(at):
    return [t.value for t in at.text]


def test_drag_points_apptest_round_trip():
    at = AppTest.from_string(DRAG_SCRIPT).run(timeout=30)
    assert not at.exception
    assert "DRAG=null" in _texts(at)
    value = {"index": 1, "x": 1.5, "y": 2.0, "points": [[0, 0], [1.5, 2.0], [-1, 0.5]], "seq": 1}
    at.session_state["dp"] = value
    at.run(timeout=30)
    assert not at.exception
    assert "DRAG=" + json.dumps(value) in _texts(at)


def test_hover_scatter_apptest_round_trip():
    at = AppTest.from_string(HOVER_SCRIPT).run(timeout=30)
    assert not at.exception
    assert "SEL=null" in _texts(at)
    at.session_state["hs"] = {"selected": [0, 3], "seq": 1}
    at.run(timeout=30)
    assert not at.exception
    assert 'SEL={"selected": [0, 3], "seq": 1}' in _texts(at)


def test_hover_scatter_rejects_ragged_inputs():
    with pytest.raises(ValueError):
        uic.hover_scatter([0, 1], [0, 1], [0], ["", ""], ["a", "b"])


# ------------------------------------------------------------------ real browser

BROWSER_SCRIPT = """
import json
import sys
sys.path.insert(0, {root!r})
import numpy as np
import streamlit as st
from ui.components import drag_points, hover_scatter, digits_to_png_b64

v = drag_points([[0.0, 0.0], [1.0, 1.0], [-1.0, 1.0]], labels=["m0", "m1", "m2"], key="dp",
                xrange=[-2, 2], yrange=[-2, 2], height=360)
st.text("DRAG=" + json.dumps(v))

rng = np.random.default_rng(0)
imgs = np.zeros((40, 28, 28), np.uint8)
imgs[:, 4:24, 12:16] = 255
xy = rng.normal(size=(40, 2))
xy[0] = [0.0, 0.0]
s = hover_scatter(xy[:, 0], xy[:, 1], [i % 10 for i in range(40)], digits_to_png_b64(imgs),
                  [f"point {{i}}" for i in range(40)], key="hs", height=360)
st.text("SEL=" + json.dumps(s))
"""


def test_components_in_real_browser(tmp_path):
    sync_playwright = browser_or_skip()
    t0 = time.time()
    script = tmp_path / "components_app.py"
    script.write_text(BROWSER_SCRIPT.format(root=str(ROOT)))
    with streamlit_server(str(script), tmp_path / "streamlit.log", {"PYTHONPATH": str(ROOT)}, timeout=30) as base:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 1100})
                page.set_default_timeout(30_000)
                page.goto(base + "/")
                page.get_by_text("DRAG=null").wait_for()
                frames = page.locator(uic.IFRAME_SELECTOR)
                frames.nth(1).wait_for()
                drag_frame = frames.nth(0).element_handle().content_frame()
                hover_frame = frames.nth(1).element_handle().content_frame()
                drag_frame.wait_for_selector("body[data-drawn=drag]")
                hover_frame.wait_for_selector("body[data-drawn=hover]")
                print("hover_scatter WebGL:", hover_frame.locator("body").get_attribute("data-webgl"))

                # --- drag the first circle ~60 px right and ~40 px up
                shape = page.frame_locator(uic.IFRAME_SELECTOR).first.locator("g.shapelayer path").first
                box = shape.bounding_box()
                assert box is not None
                cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                page.mouse.move(cx, cy)
                page.mouse.down()
                for k in range(1, 7):
                    page.mouse.move(cx + 10 * k, cy - 40 * k / 6)
                page.mouse.up()
                shown = page.get_by_text('DRAG={"index": 0')
                shown.wait_for()
                value = json.loads(shown.inner_text().strip()[len("DRAG="):])
                page.screenshot(path=str(SCREENS / "drag_points.png"))
                assert value["index"] == 0 and value["seq"] >= 1
                assert value["x"] > 0.2 and value["y"] > 0.1  # moved right and up from (0, 0)
                assert value["points"][0] == [value["x"], value["y"]]
                assert value["points"][1:] == [[1.0, 1.0], [-1.0, 1.0]]
                # the rerun (same args) does not undo the drag
                box2 = shape.bounding_box()
                assert abs(box2["x"] - (box["x"] + 60)) < 8

                # --- hover point 0 (at data (0, 0)) and expect its thumbnail
                thumb = hover_frame.locator("#thumb")
                assert not thumb.is_visible()
                ox, oy = hover_frame.evaluate("""() => {
                    const gd = document.getElementById('plot'), fl = gd._fullLayout;
                    return [fl._size.l + fl.xaxis.l2p(0), fl._size.t + fl.yaxis.l2p(0)];
                }""")
                fbox = frames.nth(1).bounding_box()
                page.mouse.move(fbox["x"] + ox + 1, fbox["y"] + oy + 1)
                page.mouse.move(fbox["x"] + ox, fbox["y"] + oy)
                thumb.wait_for(state="visible")
                assert thumb.get_attribute("src").startswith("data:image/png;base64,")
                assert hover_frame.locator("#caption").inner_text() == "point 0"
                page.screenshot(path=str(SCREENS / "hover_scatter.png"))

                # --- lasso a small ring around point 0: the selection comes back to Python
                cx, cy = fbox["x"] + ox, fbox["y"] + oy
                ring = [(cx - 6, cy - 6), (cx + 6, cy - 6), (cx + 6, cy + 6), (cx - 6, cy + 6), (cx - 6, cy - 5)]
                page.mouse.move(*ring[0])
                page.mouse.down()
                for px, py in ring[1:]:
                    page.mouse.move(px, py, steps=3)
                page.mouse.up()
                shown = page.get_by_text('SEL={"selected"')
                shown.wait_for()
                sel = json.loads(shown.inner_text().strip()[len("SEL="):])
                assert 0 in sel["selected"] and sel["seq"] >= 1, sel
            finally:
                browser.close()
    assert time.time() - t0 < 90


def test_the_components_serve_the_pinned_gl2d_bundle_only_when_it_is_intact(tmp_path, monkeypatch):
    from ui.components import bundle
    fake = tmp_path / "plotly-gl2d.min.js"
    monkeypatch.setattr(bundle, "gl2d_path", lambda: fake)
    full = bundle.source()
    assert full.name == "plotly.min.js" and full.stat().st_size > 3_000_000  # no gl2d file: the full bundle
    fake.write_text("/* not plotly */")
    assert bundle.source() == full  # a file that fails its sha256 is never served
    monkeypatch.setattr(bundle, "GL2D_SHA256", hashlib.sha256(fake.read_bytes()).hexdigest())
    assert bundle.source() == fake
