"""Faults between the sidecar and the real SuiteCRM: a seeded 30 % of requests reset, stalled past the
client timeout, answered 502/503, or cut off mid-answer (tests/reliability/faultproxy.py). The gateway's
reads and writes and the change feed + dispatcher (whose handler writes back into SuiteCRM) complete;
SuiteCRM's database then holds every write exactly once."""

from __future__ import annotations

import pytest
from faultproxy import KINDS, FaultProxy
from faults import cleanup, feed_run, gateway_run
from onec_faults import cleanup as onec_cleanup
from onec_faults import onec_run


@pytest.fixture
def proxy(live_lab, run_tag):
    with FaultProxy(int(live_lab.url.rsplit(":", 1)[1]), rate=0.3, seed=18, stall_seconds=2.0) as p:
        yield p
    cleanup(live_lab, run_tag)


def test_gateway_reads_and_writes_through_faults_land_once(live_lab, proxy, run_tag):
    out = gateway_run(live_lab, proxy.url, run_tag, n=3)
    assert out.errors == []
    assert (out.lost, out.duplicated) == (0, 0)
    assert proxy.injected > 0  # the faults were there (seeded: the same ones every run)


def test_feed_and_dispatcher_through_faults_handle_every_change_once(live_lab, proxy, run_tag, tmp_path):
    out = feed_run(live_lab, proxy.url, run_tag, tmp_path, n=2)
    assert out.errors == []
    assert (out.lost, out.duplicated) == (0, 0)
    assert proxy.injected > 0


def test_a_1c_statement_import_through_faults_lands_each_payment_once(live_kit, live_lab, proxy, run_tag,
                                                                    tmp_path):
    out = None
    try:
        out = onec_run(live_kit, live_lab, proxy.url, run_tag, tmp_path)
    finally:
        onec_cleanup(live_lab, run_tag, out)
    assert out.errors == []
    assert (out.lost, out.duplicated) == (0, 0)
    assert proxy.injected > 0


def test_the_proxy_injects_each_kind_it_is_asked_for(live_lab):
    # the harness itself: with rate 1 every request gets a fault, each kind when asked for alone
    import requests

    for kind in KINDS:
        with FaultProxy(int(live_lab.url.rsplit(":", 1)[1]), rate=1.0, kinds=[kind], stall_seconds=1.0) as p:
            try:
                r = requests.get(p.url + "/service/v4_1/rest.php", timeout=0.5)
                seen = str(r.status_code)
            except requests.RequestException as exc:
                seen = type(exc).__name__
            assert p.faults[kind] == 1
            if kind in ("502", "503"):
                assert seen == kind
            else:
                assert seen in ("ConnectionError", "ReadTimeout", "ChunkedEncodingError"), (kind, seen)


def test_portal_sync_through_faults_on_both_sides_lands_each_record_once(live_kit, live_lab, live_portal,
                                                                         run_tag, tmp_path):
    from portal_faults import cleanup as portal_cleanup
    from portal_faults import portal_run

    try:
        out = portal_run(live_kit, live_lab, live_portal, run_tag, tmp_path, rate=0.3, seed=18, n=1)
    finally:
        portal_cleanup(live_lab, live_portal, run_tag)
    assert out.errors == []
    assert (out.lost, out.duplicated) == (0, 0)
    assert sum(out.detail["faults"].values()) > 0
