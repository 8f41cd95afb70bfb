"""Real-browser tests: JupyterLab + headless Chromium (Playwright). Run with `make test-browser`.

They are collected only when ``COURSEKIT_BROWSER=1`` (the Makefile target sets it), so
`make test` never starts a browser. Which notebooks: ``COURSEKIT_BROWSER_NOTEBOOKS`` (paths
or globs, space-separated; default notebooks/*.ipynb); which slides file:
``COURSEKIT_BROWSER_SLIDES`` (default: the first build/slides/*.slides.html).
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
from pathlib import Path

import pytest

if os.environ.get("COURSEKIT_BROWSER") != "1":
    collect_ignore_glob = ["*.py"]

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "browser"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

#: User settings for the test's JupyterLab: no news/update toast, every cell kept in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        '{"fetchNews": "false", "checkForUpdates": false}',
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server on 127.0.0.1 with a random token, serving `root`.

    Its user settings, workspaces, runtime files and log live in `work`; `settings` (default
    LAB_SETTINGS) maps settings files to their JSON text.
    """

    def __init__(self, root: Path, work: Path = WORK, settings: dict[str, str] | None = None):
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.work, self.settings = work, LAB_SETTINGS if settings is None else settings
        self.log_path = work / "lab.log"

    def start(self) -> Lab:
        settings = self.work / "lab-settings"
        for rel, text in self.settings.items():
            (settings / rel).parent.mkdir(parents=True, exist_ok=True)
            (settings / rel).write_text(text)
        env = {**os.environ, "COURSEKIT_FAST": "1",
               "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.work / "lab-workspaces"),
               "JUPYTER_RUNTIME_DIR": str(self.work / "runtime")}
        env.pop("MPLBACKEND", None)  # the kernel's inline backend, as for a student
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.news_url=", "--ServerApp.port_retries=0"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")  # JupyterLab refuses root otherwise (CI runs as root)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.root)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}); see {self.log_path}")
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return self
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"JupyterLab did not answer within 120 s; see {self.log_path}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def lab():
    nb_dir = WORK / "notebooks"
    shutil.rmtree(WORK, ignore_errors=True)
    nb_dir.mkdir(parents=True)
    server = Lab(nb_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("Chromium not found: `apt-get install chromium` (make test-browser does it "
                    "as root), or put a chromium binary on PATH.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def close_notebook_page(page, context) -> None:
    """Shut the page's kernel down (best effort) and close its browser context."""
    try:
        page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    except Exception:
        pass
    context.close()
