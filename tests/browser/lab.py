"""A JupyterLab 4 server and a headless Debian chromium driven by Playwright, for browser tests.

The browser is Debian's ``chromium`` (Playwright's own browser download needs
the internet). Every request the page makes is recorded; requests to any host
other than this machine are refused and reported, so a test can prove that
nothing left localhost.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    """Debian's chromium; a clear message when it is missing (`.ci/system-deps.sh` installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("the browser test needs Debian's chromium: run `sudo bash "
                           ".ci/system-deps.sh` (or `sudo apt-get install chromium`)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyterlab(root: Path, *, env: dict | None = None, timeout: float = 90):
    """Run ``jupyter lab`` on a free localhost port serving `root`; yields its base URL + token."""
    port, token = _free_port(), secrets.token_hex(16)
    config = root.parent / "jupyter-config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    # No "would you like news?" toast and no update check: both would ask the internet.
    (config / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",   # the default one asks PyPI
    ]
    if os.geteuid() == 0:                         # CI containers run as root
        command.append("--allow-root")
    full_env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), **(env or {})}
    log = (root.parent / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start; its log: "
                                       + (root.parent / "jupyterlab.log").read_text()[-2000:])
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


class RequestLog:
    """Every URL the page asked for; those for other hosts are refused."""

    def __init__(self):
        self.local: list[str] = []
        self.external: list[str] = []

    def route(self, route) -> None:
        url = route.request.url
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            self.local.append(url)
            route.continue_()
        else:
            self.external.append(url)
            route.abort()
