"""Debian's Chromium driven by Playwright; never a downloaded browser."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def require_browser() -> None:
    """Skip with a reason unless Chromium is present; in CI (YOUTH_HUB_TEST_BROWSER=1) fail."""
    present = os.path.exists(CHROMIUM) or shutil.which("chromium") is not None
    if present:
        return
    if os.environ.get("YOUTH_HUB_TEST_BROWSER") == "1":
        pytest.fail(
            "YOUTH_HUB_TEST_BROWSER=1 but /usr/bin/chromium is missing (apt-get install chromium)"
        )
    pytest.skip(
        "Browser tests skipped: no Chromium at /usr/bin/chromium (apt-get install chromium)."
    )
