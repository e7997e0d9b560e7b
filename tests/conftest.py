"""Test-wide settings: Prefect stays offline and out of the user's home."""

from __future__ import annotations

import os
import tempfile

# Before anything imports prefect: no telemetry (the machine is offline) and a throwaway home,
# so tests never touch ~/.prefect.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="ftkit-test-prefect-"))
