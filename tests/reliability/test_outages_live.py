"""SuiteCRM and its database "restarted" under a running `suitecrm-ext run` (emulated on the sidecar's
own path: the shared Apache and MariaDB stay up; tests/reliability/outages.py): the same process
recovers by itself and every change saved before, during and after the outage is handled once."""

from __future__ import annotations

import pytest
from faults import cleanup
from outages import outage_run


@pytest.mark.parametrize("side", ["http", "mysql"])
def test_the_sidecar_recovers_from_an_outage_by_itself(live_kit, live_lab, run_tag, tmp_path, side):
    tag = f"{run_tag}{side[0]}"
    try:
        out = outage_run(live_kit, live_lab, tag, tmp_path, side=side, seconds=5, records=2)
    finally:
        cleanup(live_lab, tag)
    assert out.errors == []
    assert (out.lost, out.duplicated) == (0, 0)
    assert out.expected == 6 and out.detail["outages"] == (2 if side == "http" else 1)
    if side == "mysql":
        assert out.detail["resets"] >= 1  # the reader's open connection was cut
