import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Tiny configs: a few hundred digits, small batches, frequent logs.
# The timeline recorder is off in them (its cost is per epoch); tests/test_timeline.py and the resume
# tests turn it on.
TINY = {"batch_size": 16, "log_every": 2, "epochs": 1, "eval_every": 0}
TINY_DATA = 128  # digits -> 8 steps per epoch at batch 16


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    """Every test gets its own run store (and store of imported models)."""
    d = tmp_path / "runs"
    monkeypatch.setenv("LATENT_LAB_RUNS", str(d))
    monkeypatch.setenv("LATENT_LAB_IMPORTED", str(tmp_path / "imported"))
    return d


@pytest.fixture(scope="session", autouse=True)
def derived_cache(tmp_path_factory):
    """Derived caches (floors and references not shipped in trained/reference/, scores of shipped
    models, timings) go to a temp folder per test session: the tests never read (or write) the
    user's caches."""
    d = tmp_path_factory.mktemp("cache")
    old = os.environ.get("LATENT_LAB_CACHE")
    os.environ["LATENT_LAB_CACHE"] = str(d)
    yield d
    if old is None:
        os.environ.pop("LATENT_LAB_CACHE", None)
    else:
        os.environ["LATENT_LAB_CACHE"] = old


@pytest.fixture(scope="session", autouse=True)
def mnist_ready():
    from core.store.mnist import DataError, load_arrays
    try:
        load_arrays()
    except DataError as exc:
        pytest.exit(f"MNIST is not prepared: {exc}", returncode=3)


@pytest.fixture
def model_copy(tmp_path):
    """The zoo WGAN-GP's checkpoint copied to tmp_path/m/model.pt, so score caches and fitted
    priors land there and never in trained/."""
    import shutil
    p = tmp_path / "m" / "model.pt"
    p.parent.mkdir()
    shutil.copy(ROOT / "trained" / "wgan-gp" / "model.pt", p)
    return str(p)


def run_cli(*args, timeout=300, env=None):
    """`python -m core ARGS` in a subprocess; returns CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def imported(tmp_path):
    """A course-format G.pth + D.pth (random weights) and a G.pth alone, imported."""
    from core.store import importer

    from course_nets import save_pair
    save_pair(tmp_path)
    importer.import_model(tmp_path / "G.pth", tmp_path / "D.pth", name="course")
    importer.import_model(tmp_path / "G.pth", name="course-g")
    return tmp_path
