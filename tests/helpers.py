"""What the tests share that is not a fixture: the tiny training configs, a finished tiny run, the
CLI in a subprocess, and the AppTest helpers for the dashboard's pages. Fixtures (the run stores,
the in-process `cli`, the zoo model) are in conftest.py."""
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Tiny configs: a few hundred digits, small batches, frequent logs.
# The timeline recorder is off in them (its cost is per epoch); tests/test_timeline.py and the resume
# tests turn it on.
TINY = {"batch_size": 16, "log_every": 2, "epochs": 1, "eval_every": 0}
TINY_DATA = 128  # digits -> 8 steps per epoch at batch 16

APP_TIMEOUT = 180  # seconds an AppTest run may take: the first page in a session scores the real-data floor


def trained_run(variant: str = "vanilla", max_steps: int | None = None, **over):
    """A finished tiny run (one 8-step epoch, or `max_steps`, a checkpoint) of TINY + `over`, its
    writer's lock released."""
    from core.gan.variants import make_config
    from core.store.runs import Run
    from core.train.engine import Trainer
    cfg = make_config(variant, {**TINY, **over})
    run = Run.create(cfg)
    assert Trainer(cfg, "cpu", run=run, progress=False, data_limit=TINY_DATA).fit(max_steps=max_steps) == "done"
    run.close()
    return run


def one_line(res, needle: str) -> str:
    """A user mistake's answer: exit 2, one line on stderr that says `needle`, no traceback."""
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr, res.stderr
    return lines[0]


def run_cli(*args, timeout=300, env=None):
    """`python -m core ARGS` in a subprocess; returns CompletedProcess (text). The `cli` fixture
    runs the same commands in this process, without the interpreter's start-up."""
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def free_port() -> int:
    """A TCP port nothing on this machine listens at (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_command() -> str:
    """The `ray` script of this interpreter's environment (the venv's bin/ need not be on PATH)."""
    here = Path(sys.executable).parent / "ray"
    return str(here) if here.is_file() else "ray"


# ---- AppTest: the dashboard's pages headless ---------------------------------------------------
def page(path: str, **state):
    """app.py run headless with `state` in its session, then switched to the page at `path`."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    st.cache_data.clear()  # each test has its own run store; cached model lists would leak across
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    if path != "views/overview.py":
        at.switch_page(path).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def dataframe_heights(monkeypatch) -> dict:
    """{a column of the table: the height st.dataframe was given}, filled as pages render (AppTest does
    not expose an element's height)."""
    import streamlit as st
    seen, real = {}, st.dataframe

    def recording(data=None, *args, **kwargs):
        for c in getattr(data, "columns", []):
            seen[c] = kwargs.get("height")
        return real(data, *args, **kwargs)
    monkeypatch.setattr(st, "dataframe", recording)
    return seen


def texts(at) -> str:
    """Every message a page shows (markdown, captions, info, errors, warnings, successes) in one string."""
    return " ".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "warning", "success")
                    for e in getattr(at, kind))


def retrain_in_place(checkpoint: str) -> None:
    """Stand-in for a retrain: the checkpoint at `checkpoint` rewritten with G's first weight nudged, so
    its sha256 (and nothing else about the model) changes."""
    import torch

    from core.store.checkpoint import load, save_atomic
    sd = load(checkpoint)
    first = next(iter(sd["G"]))
    sd["G"][first] = sd["G"][first] + 1e-3
    save_atomic(sd, checkpoint)
    assert torch.is_tensor(sd["G"][first])


def start_mlflow(folder: Path, timeout: float = 120):
    """A real MLflow tracking server (the venv's `mlflow server`, SQLite + a local artifact root) on a
    free port, waited for until it answers /health: (Popen, "http://127.0.0.1:PORT")."""
    import time
    import urllib.request
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    exe = Path(sys.executable).parent / "mlflow"
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([str(exe), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
                             "--default-artifact-root", str(folder / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            # no job runner: its 7 huey consumers (GenAI scorer jobs, which the tests never
                            # ask for) cost ~17 CPU-s to start, beside a 2-CPU-s tracking server
                            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    uri, deadline = f"http://127.0.0.1:{port}", time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {(folder / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, uri
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"mlflow server did not answer in {timeout:.0f} s: {(folder / 'server.log').read_text()[-2000:]}")


def rest(base: str, endpoint: str, body: dict | None = None, **query) -> dict:
    """One call of an MLflow server's REST API (GET with `query`, POST with `body`)."""
    import json
    import urllib.parse
    import urllib.request
    url = f"{base}/api/2.0/mlflow/{endpoint}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


class CuttableProxy:
    """A localhost TCP proxy in front of a server on `port`: `cut()` closes it and every connection
    through it, which to a client is the server going away (tests/test_trackers.py), without
    killing the session's real server."""

    def __init__(self, port: int):
        import threading
        self.upstream, self.conns, self.open = port, [], True
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.uri = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:  # cut
                return
            if not self.open:  # accepted as it was cut
                client.close()
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.open = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() a close alone would leave listening
        except OSError:
            pass
        self.sock.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
