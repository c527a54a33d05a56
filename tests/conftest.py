"""The tests' fixtures. Plain helpers (TINY, trained_run, run_cli, the AppTest `page`) are in
tests/helpers.py; README's "Tests and CI" maps each feature to its test file."""
import os
import signal
import subprocess
import sys
import time
from typing import NamedTuple

import pytest

from helpers import ROOT, free_port, ray_command, start_mlflow

sys.path.insert(0, str(ROOT))

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs two workers on two cores: one thread each
    import torch
    os.environ["OMP_NUM_THREADS"] = "1"  # and the same for the processes the tests start
    torch.set_num_threads(1)
    # Ray starts its workers at nice 15: beside the other pytest worker a sweep's trials would get
    # almost no CPU (a 60-s sweep test took 207 s). The tests' Ray workers run at the tests' priority.
    os.environ["RAY_worker_niceness"] = "0"  # noqa: SIM112 - Ray's own spelling


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
def cli(capsys):
    """`python -m core ARGS` in this process (no interpreter start-up): .returncode/.stdout/.stderr.
    `train` runs get --quiet. run_cli (tests/helpers.py) is the same in a subprocess."""
    from types import SimpleNamespace

    from core.cli import main

    def call(*args):
        capsys.readouterr()
        try:
            rc = main([*args, "--quiet"] if args[0] == "train" else list(args))
        except SystemExit as exc:  # argparse's own errors (an unknown command, a bad choice)
            rc = exc.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=rc, stdout=out.out, stderr=out.err)
    return call


class ZooModel(NamedTuple):
    G: object
    D: object
    prior: object


@pytest.fixture(scope="session")
def zoo_wgan() -> ZooModel:
    """The shipped WGAN-GP (a critic whose scores mean something), loaded once per session:
    tests must leave it as they found it (no gradients, eval mode)."""
    from core.store.registry import load_model
    m = load_model("wgan-gp")
    return ZooModel(m.G, m.D, m.prior)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """A Ray head started once per session with `ray start` ("127.0.0.1:PORT"). The sweep tests that
    do not test Ray's own start-up join it with --address (about a second) instead of starting and
    stopping a Ray of their own (about 8 s each on a loaded 2-core machine). Each sweep is its own
    Ray job, with its own run store in its workers' environment."""
    port = free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    head = subprocess.Popen([ray_command(), "start", "--head", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats", "--block"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.time() + 120
        while "Ray runtime started" not in log.read_text():
            if head.poll() is not None or time.time() > deadline:
                pytest.fail(f"`ray start --head` did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops its GCS, raylet and workers
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # whatever of its process group is left
        except ProcessLookupError:
            pass


@pytest.fixture
def model_copy(tmp_path):
    """The zoo WGAN-GP's checkpoint copied to tmp_path/m/model.pt, so score caches and fitted
    priors land there and never in trained/."""
    import shutil
    p = tmp_path / "m" / "model.pt"
    p.parent.mkdir()
    shutil.copy(ROOT / "trained" / "wgan-gp" / "model.pt", p)
    return str(p)


@pytest.fixture
def imported(tmp_path):
    """A course-format G.pth + D.pth (random weights) and a G.pth alone, imported."""
    from core.store import importer

    from course_nets import save_pair
    save_pair(tmp_path)
    importer.import_model(tmp_path / "G.pth", tmp_path / "D.pth", name="course")
    importer.import_model(tmp_path / "G.pth", name="course-g")
    return tmp_path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server for the session ("http://127.0.0.1:PORT"), stopped at its end."""
    proc, uri = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    try:
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers (its own process group)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
