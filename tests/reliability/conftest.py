"""The reliability suite (issue 18): faults between sidecar and SuiteCRM, kill -9 rounds, hostile input.

Files named ``test_*_live.py`` run against the real SuiteCRM of ``$SUITECRM_EXT_LIVE_ENV`` (marker
``live``, skipped without it, failing under ``$SUITECRM_EXT_LIVE_REQUIRED=1``); they reuse the live
layer's kit (tests/live/livekit.py). The fuzz tests need nothing but the code. ``bench/reliability.py``
runs the same scenarios with more rounds and prints the table of what was survived.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "live"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        if path.parent == HERE and path.name.endswith("_live.py"):
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A short tag unique to this run, put into the names of the records the tests create."""
    import uuid

    return "sxr" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def live_portal():
    """The second real SuiteCRM, playing the client portal (``$SUITECRM_EXT_LIVE_PORTAL_ENV``)."""
    from suitecrm_ext.lab import LIVE_PORTAL_ENV_VAR
    from suitecrm_ext.testing import require_live_instance

    return require_live_instance(LIVE_PORTAL_ENV_VAR)


@pytest.fixture(scope="session")
def live_kit(live_lab, tmp_path_factory):
    """The live kit (tests/live/livekit.py) for ``$SUITECRM_EXT_LIVE_ENV``."""
    from livekit import LiveKit

    return LiveKit(live_lab, tmp_path_factory.mktemp("rel-livekit"))
