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


FIND_NOTEBOOK = """(path) => {
  const panels = Array.from(window.jupyterapp.shell.widgets('main'));
  window.__notebook = panels.find(panel => panel.context && panel.context.path === path);
  return window.__notebook !== undefined;
}"""
KERNEL_IDLE = """() => {
  const panel = window.__notebook;
  const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return kernel && kernel.status === 'idle';
}"""
ALL_CELLS_RAN = """() => {
  const panel = window.__notebook;
  const code = panel.content.widgets.filter(cell => cell.model.type === 'code');
  const kernel = panel.sessionContext.session.kernel;
  return code.every(cell => cell.model.executionCount !== null) && kernel.status === 'idle';
}"""
RAN_OR_STOPPED = """() => {
  const panel = window.__notebook;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const code = panel.content.widgets.filter(cell => cell.model.type === 'code');
  const failed = code.some(cell => cell.model.outputs.toJSON().some(o => o.output_type === 'error'));
  return failed || code.every(cell => cell.model.executionCount !== null);
}"""
LAST_CELL_TEXT = """() => {
  const code = window.__notebook.content.widgets.filter(cell => cell.model.type === 'code');
  const last = code[code.length - 1];
  return { ran: last.model.executionCount !== null,
           text: last.model.outputs.toJSON().map(o => o.text || '').join('') };
}"""
ERRORS = """() => window.__notebook.content.widgets
  .filter(cell => cell.model.type === 'code')
  .flatMap(cell => cell.model.outputs.toJSON())
  .filter(output => output.output_type === 'error')
  .map(output => output.ename + ': ' + output.evalue)"""
KERNEL_PRINT = """async (code) => {
  const kernel = window.__notebook.sessionContext.session.kernel;
  const future = kernel.requestExecute({ code, silent: false, store_history: false });
  let text = '';
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'stream') text += msg.content.text;
    if (msg.header.msg_type === 'error') text += 'ERROR ' + msg.content.ename + ': ' + msg.content.evalue;
  };
  await future.done;
  return text;
}"""


def open_and_run(browser, base: str, token: str, notebook: str, *, until: str = ALL_CELLS_RAN):
    """A new page with `notebook` open in JupyterLab and all its cells run: (page, its RequestLog).

    Waits until `until` holds: every code cell ran (the default), or, with
    ``RAN_OR_STOPPED``, also until Run All stopped at a cell that failed.
    """
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests = RequestLog()
    page.route("**/*", requests.route)
    # A workspace of its own, reset: no other notebook restored from an earlier page.
    page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={token}")
    page.wait_for_function("window.jupyterapp !== undefined", timeout=90_000)
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    page.wait_for_function(FIND_NOTEBOOK, arg=notebook, timeout=90_000)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate("window.jupyterapp.shell.activateById(window.__notebook.id)")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(until, timeout=240_000, polling=500)
    return page, requests


def shut_down(page) -> None:
    """Stop the notebook's kernel (closing the page would leave it running) and close the page."""
    page.evaluate("window.__notebook.sessionContext.shutdown()")
    page.close()


def kernel_print(page, code: str) -> str:
    """Run `code` in the notebook's kernel and return what it printed (for checks behind widgets)."""
    return page.evaluate(KERNEL_PRINT, code)
