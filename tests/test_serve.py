"""A served deployment against a temporary local Prefect server: registered, triggered once, run to completion."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.prefect

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


def test_served_deployment_completes_a_triggered_run(sample_corpus, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    env.pop("PREFECT_API_KEY", None)
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    served = None
    try:
        wait_for(f"http://127.0.0.1:{port}/api/health", 120)
        out = tmp_path / "out"
        served = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows.cli",
                "serve",
                "--cron",
                "0 3 * * *",
                "--input",
                str(sample_corpus / "corpus"),
                "--output",
                str(out),
                "--name",
                "test",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        triggered = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the deployment exists once serve has registered it
            triggered = subprocess.run(
                [str(BIN / "prefect"), "deployment", "run", "wiretrace-batch/test", "--watch"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if "not found" not in (triggered.stdout + triggered.stderr).lower():
                break
            time.sleep(2)
        assert triggered is not None and triggered.returncode == 0, triggered.stdout[-2000:] + triggered.stderr[-2000:]
        assert "Completed" in triggered.stdout
        runs = duckdb.sql(f"SELECT status FROM '{out}/runs/*.parquet'").fetchall()
        assert runs == [("completed",)] and (out / "report" / "index.html").exists()
    finally:
        for process in (served, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
