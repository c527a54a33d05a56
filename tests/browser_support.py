"""Shared by the real-browser tests: Debian Chromium for Playwright (never a downloaded
browser) and a Streamlit server on a free localhost port."""
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT

CHROMIUM = "/usr/bin/chromium"
SCREENS = ROOT / "artifacts" / "screens"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_or_skip():
    """Skip (with the reason) unless Chromium and Playwright are there; returns sync_playwright."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright; never `playwright install`)")
    SCREENS.mkdir(parents=True, exist_ok=True)
    return sync_playwright


SERVER_PIDS: dict[str, int] = {}  # base URL -> the streamlit server's pid (its memory is measured)


def rss_mb(pid: int) -> float:
    """A process's resident memory now, in MB (from /proc; Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(script: str, log_path: Path, env: dict | None = None, timeout: float = 60):
    """`streamlit run SCRIPT` on a free localhost port; yields the base URL; always stopped."""
    port = _free_port()
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **(env or {})},
            stdout=log, stderr=subprocess.STDOUT)
        try:
            end = time.time() + timeout
            while True:
                if server.poll() is not None:
                    raise RuntimeError("streamlit exited: " + Path(log_path).read_text(errors="replace"))
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.time() > end:
                        raise TimeoutError(f"streamlit did not listen on {port} within {timeout}s") from None
                    time.sleep(0.3)
            SERVER_PIDS[f"http://127.0.0.1:{port}"] = server.pid
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
