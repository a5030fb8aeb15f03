"""The live layer: tests against real SuiteCRM 7.14.6 instances provisioned by ../shared/suitecrm/lab.sh.

Every test under tests/live/ gets the ``live`` marker. The instance comes from the env file named by
``$SUITECRM_EXT_LIVE_ENV`` (the client portal's from ``$SUITECRM_EXT_LIVE_PORTAL_ENV``, a stock instance
without the SOAP patch from ``$SUITECRM_EXT_LIVE_STOCK_ENV``). Without them the layer is skipped with
the reason; ``.ci/run`` provisions the instances and sets ``$SUITECRM_EXT_LIVE_REQUIRED=1``, so there a
missing instance fails instead. Tests make their own records (names carry a per-run tag) and remove them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from suitecrm_ext.lab import LIVE_PORTAL_ENV_VAR, LabInstance
from suitecrm_ext.testing import require_live_instance

LIVE_STOCK_ENV_VAR = "SUITECRM_EXT_LIVE_STOCK_ENV"
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    rerun = config.pluginmanager.hasplugin("rerunfailures")
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.live)
            if rerun and not item.get_closest_marker("flaky"):
                # a real SuiteCRM under load is sometimes slower than a test's wait: one more try,
                # shown as R in the log; a test failing twice fails
                item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=5))


@pytest.fixture(scope="session")
def live_portal() -> LabInstance:
    """The second real SuiteCRM, playing the client portal (``$SUITECRM_EXT_LIVE_PORTAL_ENV``)."""
    return require_live_instance(LIVE_PORTAL_ENV_VAR)


@pytest.fixture(scope="session")
def live_stock() -> LabInstance:
    """A real SuiteCRM whose SOAP is stock (broken on PHP 8, SuiteCRM#9741).

    From ``$SUITECRM_EXT_LIVE_STOCK_ENV``.
    """
    return require_live_instance(LIVE_STOCK_ENV_VAR)


@pytest.fixture(scope="session")
def run_tag() -> str:
    """A short tag unique to this test run, put into the names of records the tests create."""
    import uuid

    return "sxt" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def live_kit(live_lab, tmp_path_factory):
    """The shared live kit for ``$SUITECRM_EXT_LIVE_ENV`` (tests/live/livekit.py): ``.install(plugin)``
    (package scan on, once per session), ``.push_url`` / ``.secret``, ``.receiver(plugins)`` and
    ``.sidecar(config)`` on the session's fixed push address, ``.config(...)`` for a sidecar."""
    from livekit import LiveKit

    return LiveKit(live_lab, tmp_path_factory.mktemp("livekit"))
