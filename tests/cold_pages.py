"""Times every page's first visit as after a fresh clone (empty LATENT_LAB_CACHE, run store and
imported models, in a temp folder): AppTest runs app.py (the Overview), then switches to each
page once. Prints {page: [wall s, process CPU s, 1-min load average]}.

    LATENT_LAB_DATA=… python tests/cold_pages.py [views/x.py …]

JOIN_WARMUP=1 waits, after the Overview, for app.py's background umap warm-up (what a user
reading the Overview gives it) and reports it as its own row."""
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(out: dict, name: str, fn) -> None:
    t0, c0 = time.perf_counter(), cpu()
    fn()
    out[name] = [round(time.perf_counter() - t0, 1), round(cpu() - c0, 1), round(os.getloadavg()[0], 1)]
    print(name, out[name], flush=True)


def main(pages: list[str]) -> dict:
    tmp = tempfile.mkdtemp(prefix="cold_")
    for var, sub in (("LATENT_LAB_CACHE", "cache"), ("LATENT_LAB_RUNS", "runs"), ("LATENT_LAB_IMPORTED", "imported")):
        os.environ[var] = os.path.join(tmp, sub)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from streamlit.testing.v1 import AppTest

    from ui.common import PAGES
    out: dict = {}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    timed(out, "views/overview.py", at.run)
    if os.environ.get("JOIN_WARMUP"):
        warm = [t for t in threading.enumerate() if getattr(getattr(t, "_target", None), "__name__", "") == "warm_up"]
        timed(out, "(umap warm-up, after the Overview)", lambda: [t.join() for t in warm])
    for p in pages or [p for p in PAGES if p != "views/overview.py"]:
        timed(out, p, lambda p=p: at.switch_page(p).run())
        assert not at.exception, (p, [e.message for e in at.exception])
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
