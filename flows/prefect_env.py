"""Zero set-up Prefect: a temporary local server with its state in a user cache folder, telemetry off.

Must run before `import prefect` (Prefect reads these settings at import time).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def configure(home: str | Path | None = None, quiet: bool = True) -> Path:
    """Set Prefect's environment defaults (never overriding what the user set) and return PREFECT_HOME."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    prefect_home = Path(home) if home else cache / "wiretrace" / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        # A cold temporary server takes 10-13 s here; give slow CI machines room.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "WARNING" if quiet else "INFO",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return Path(os.environ["PREFECT_HOME"])


class TemporaryServer:
    """The temporary local Prefect server a lone run needs, started before Prefect is even imported.

    Prefect starts the same server (uvicorn over `prefect.server.api.server:create_app`, no UI, no background
    services) on a run's first API call, and the run waits for it: 6-12 s here. Started first, it boots on the other
    core while this process imports Prefect and the pipeline and reads its input, and runs find it through
    `PREFECT_API_URL` like any server."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.log_path = Path(os.environ["PREFECT_HOME"]) / "temporary-server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update({"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(_prefect_parent()),
                    "--factory",
                    "prefect.server.api.server:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        os.environ["PREFECT_API_URL"] = self.api_url

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait_until_healthy(self) -> None:
        """Block until the server answers its health check; RuntimeError (with its log) if it exits or times out."""
        deadline = time.monotonic() + float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
        while True:
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(f"the temporary Prefect server on port {self.port} did not start:\n{log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if os.environ.get("PREFECT_API_URL") == self.api_url:
            del os.environ["PREFECT_API_URL"]


def start_temporary_server() -> TemporaryServer | None:
    """A `TemporaryServer` when no Prefect API is configured (`PREFECT_API_URL` unset), else None: runs go to the
    configured server. Call after `configure` and before `import prefect`."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    return TemporaryServer()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefect_parent() -> Path:
    """The folder holding the `prefect` package (uvicorn's --app-dir), found without importing it."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("prefect is not installed")
    return Path(next(iter(spec.submodule_search_locations))).parent
