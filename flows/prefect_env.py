"""Zero set-up Prefect: a temporary local server with its state in a user cache folder, telemetry off.

Must run before `import prefect` (Prefect reads these settings at import time).
"""

from __future__ import annotations

import os
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
