"""Shared pytest set-up: an isolated Hugging Face home, no telemetry, the fake Hub fixture."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# huggingface_hub reads these at import time, so they are set before anything imports it:
# no call may reach the real Hub, and no test may touch the user's cache or token.
_HF_HOME = tempfile.mkdtemp(prefix="esm-registry-tests-hf-home-")
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_ENDPOINT", None)

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from hub_server import fake_hub  # noqa: E402, F401

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def legacy_card_text() -> str:
    """A card as hfselect's template wrote it (the amz20/Dumbbell ESM on the Hub)."""
    return (DATA / "legacy_card_amz20_dumbbell.md").read_text(encoding="utf-8")
