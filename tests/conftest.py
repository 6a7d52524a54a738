"""Shared fixtures. The Samba lab fixture lives in tests/integration/conftest.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def samba_descriptors() -> dict[str, bytes]:
    """Descriptors captured from the real Samba lab DC (see the file's _about)."""
    data = json.loads((FIXTURES / "samba-descriptors.json").read_text())
    return {k: base64.b64decode(v) for k, v in data.items() if not k.startswith("_")}
