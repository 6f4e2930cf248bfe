"""The temporary Prefect server a lone `wiretrace run` starts before importing Prefect."""

import os
import urllib.request

import pytest

from flows import prefect_env


def test_no_temporary_server_when_a_prefect_api_is_configured(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert prefect_env.start_temporary_server() is None


def test_a_temporary_server_answers_until_stopped(monkeypatch, tmp_path):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    server = prefect_env.start_temporary_server()
    assert server is not None
    try:
        assert os.environ["PREFECT_API_URL"] == server.api_url  # what this process's runs talk to
        server.wait_until_healthy()
        with urllib.request.urlopen(f"{server.api_url}/health", timeout=5) as response:
            assert response.status == 200
    finally:
        server.stop()
    assert server.process.poll() is not None and "PREFECT_API_URL" not in os.environ


def test_a_temporary_server_that_cannot_start_fails_with_its_log(monkeypatch, tmp_path):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "nosuchdialect://nowhere")
    server = prefect_env.start_temporary_server()
    assert server is not None
    with pytest.raises(RuntimeError, match="did not start") as caught:
        server.wait_until_healthy()
    assert "nosuchdialect" in str(caught.value)  # the server's own error, from its log
    assert server.process.poll() is not None
