"""Times each page's first visit in a real browser, as a user meets it after `make run`: a fresh
server and an empty LATENT_LAB_CACHE, run store and imported models; the Overview is opened first
(the very first visit of a fresh server pays the one-time Python imports, ~2 s), the user reads it
for READ_S seconds, then opens the page. A visit is timed from `goto` until the page's title, its
main content and no "Running…" widget: that is what the user waits for. Not collected by pytest.

    LATENT_LAB_DATA=… python tests/first_visits.py [latent_map refine …]   # default: every page

Prints one line per page: seconds to its title, to its content, and in all."""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from browser_support import ARGS, CHROMIUM, streamlit_server  # noqa: E402

READ_S = 12  # what a user spends on the Overview before clicking on (the UMAP warm-up runs meanwhile)
CONTENT = {  # slug -> what shows the page's main content
    "": '[data-testid="stDataFrame"]', "train": '[data-testid="stForm"]', "compare": '[data-testid="stPlotlyChart"]',
    "timeline": '[data-testid="stPlotlyChart"]', "latent_map": "iframe", "classes": '[data-testid="stPlotlyChart"]',
    "gmm_editor": "iframe", "refine": '[data-testid="stImage"] img', "interpolate": '[data-testid="stImage"] img',
    "directions": '[data-testid="stImage"] img',
    "sweep": '[data-testid="stDataFrame"]', "findings": '[data-testid="stDataFrame"]',
}
RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'


def visit(page, base: str, slug: str) -> dict:
    t0 = time.time()
    page.goto(f"{base}/{slug}")
    page.locator("h1").first.wait_for(timeout=180_000)
    title = time.time() - t0
    page.locator(CONTENT[slug]).first.wait_for(timeout=180_000)
    content = time.time() - t0
    page.locator(RUNNING).wait_for(state="hidden", timeout=180_000)
    return {"title_s": round(title, 1), "content_s": round(content, 1), "done_s": round(time.time() - t0, 1)}


def first_visit(slug: str) -> dict:
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="first_visit_"))
    (tmp / "runs").mkdir()
    env = {"LATENT_LAB_CACHE": str(tmp / "cache"), "LATENT_LAB_RUNS": str(tmp / "runs"),
           "LATENT_LAB_IMPORTED": str(tmp / "imported")}
    with streamlit_server("app.py", tmp / "streamlit.log", env) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        overview = visit(page, base, "")
        if not slug:
            return overview
        time.sleep(READ_S)  # the user reading the Overview (not a wait for a condition: a user's pace)
        res = visit(page, base, slug)
        browser.close()
        return res


if __name__ == "__main__":
    slugs = sys.argv[1:] or list(CONTENT)
    out = {}
    for slug in slugs:
        out[slug or "overview"] = first_visit(slug)
        print(slug or "overview", out[slug or "overview"], f"load {os.getloadavg()[0]:.1f}", flush=True)
    print(json.dumps(out))
