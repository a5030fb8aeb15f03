"""The shared HTTP layer: timeouts, error mapping, and the retry policy (never sleeping for real)."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import responses

from suitecrm_ext.config import SuiteCRMSettings
from suitecrm_ext.crm.base import ProtocolError, TransientError
from suitecrm_ext.crm.http import RetryPolicy, classify, make_session, parse_retry_after, send

URL = "http://crm.test/service/v4_1/rest.php"


def policy(retries: int = 4, **kw) -> RetryPolicy:
    slept: list[float] = []
    p = RetryPolicy(retries=retries, sleep=slept.append, rng=lambda: 0.0, **kw)
    p.slept = slept  # type: ignore[attr-defined]
    return p


def get(session):
    resp = send(session, "GET", URL, transport="rest")
    classify(resp, transport="rest")
    return resp


@responses.activate
def test_session_applies_default_timeout_and_verify():
    seen = {}

    def cb(request):
        return 200, {}, "ok"

    responses.add_callback(responses.GET, URL, callback=cb)
    s = make_session(timeout=7.5, verify="/etc/ssl/ca.pem")
    orig = requests.Session.send

    def spy(self, request, **kw):
        seen.update(kw)
        return orig(self, request, **kw)

    requests.Session.send = spy
    try:
        s.get(URL)
    finally:
        requests.Session.send = orig
    assert seen["timeout"] == 7.5
    assert seen["verify"] == "/etc/ssl/ca.pem"
    assert s.headers["User-Agent"].startswith("suitecrm-ext/")


def test_bad_timeout_refused():
    with pytest.raises(ValueError, match="timeout"):
        make_session(timeout=0)


@responses.activate
def test_5xx_then_success_is_retried_with_growing_backoff():
    responses.add(responses.GET, URL, status=502, body="Bad gateway")
    responses.add(responses.GET, URL, status=503, body="")
    responses.add(responses.GET, URL, status=200, body="fine")
    p = policy(retries=4)
    resp = p.call(get, make_session())
    assert resp.text == "fine"
    assert len(responses.calls) == 3
    # rng=0 → half of base * 2**(n-1)
    assert p.slept == [0.25, 0.5]


@responses.activate
def test_429_honours_retry_after_seconds():
    responses.add(responses.GET, URL, status=429, headers={"Retry-After": "7"})
    responses.add(responses.GET, URL, status=200, body="ok")
    p = policy()
    p.call(get, make_session())
    assert p.slept == [7.0]


@responses.activate
def test_retry_after_is_capped():
    responses.add(responses.GET, URL, status=429, headers={"Retry-After": "86400"})
    responses.add(responses.GET, URL, status=200, body="ok")
    p = policy(max_retry_after=60)
    p.call(get, make_session())
    assert p.slept == [60]


@responses.activate
def test_gives_up_after_configured_retries_and_reraises_transient():
    for _ in range(5):
        responses.add(responses.GET, URL, status=500, body="boom")
    p = policy(retries=2)
    with pytest.raises(TransientError, match="HTTP 500") as err:
        p.call(get, make_session())
    assert len(responses.calls) == 3
    assert err.value.transport == "rest"


@responses.activate
def test_connection_error_and_timeout_are_transient():
    responses.add(responses.GET, URL, body=requests.ConnectionError("refused"))
    responses.add(responses.GET, URL, body=requests.ReadTimeout("slow"))
    responses.add(responses.GET, URL, status=200, body="ok")
    p = policy()
    assert p.call(get, make_session()).text == "ok"
    assert len(p.slept) == 2


@responses.activate
def test_an_answer_cut_off_mid_body_is_transient():
    # urllib3 reads fewer bytes than Content-Length: a lost answer (tests/reliability's proxy does it
    # for real in front of SuiteCRM); it used to be a ProtocolError, so the call was never retried
    responses.add(responses.GET, URL, body=requests.exceptions.ChunkedEncodingError("IncompleteRead"))
    responses.add(responses.GET, URL, status=200, body="ok")
    p = policy()
    assert p.call(get, make_session()).text == "ok"
    assert len(p.slept) == 1


@responses.activate
def test_4xx_is_a_protocol_error_with_body_and_not_retried():
    responses.add(responses.GET, URL, status=404, body="<html>no such page</html>")
    p = policy()
    with pytest.raises(ProtocolError) as err:
        p.call(get, make_session())
    assert "no such page" in err.value.excerpt
    assert "404" in str(err.value)
    assert len(responses.calls) == 1
    assert p.slept == []


def test_zero_retries_means_one_attempt():
    calls = []

    def boom():
        calls.append(1)
        raise TransientError("x")

    with pytest.raises(TransientError):
        policy(retries=0).call(boom)
    assert calls == [1]


def test_non_transient_errors_pass_through_at_once():
    calls = []

    def boom():
        calls.append(1)
        raise ValueError("bad")

    with pytest.raises(ValueError):
        policy().call(boom)
    assert calls == [1]


def test_backoff_has_jitter_and_cap():
    p = RetryPolicy(base=1, max_wait=5, rng=lambda: 0.999)
    assert p.wait_for(1, None) == pytest.approx(0.9995)
    assert p.wait_for(10, None) == pytest.approx(5 * 0.9995)
    p.rng = lambda: 0.0
    assert p.wait_for(3, None) == 2.0


def test_retry_after_parsing():
    now = dt.datetime(2026, 11, 23, 5, 0, 0, tzinfo=dt.timezone.utc)
    assert parse_retry_after("12", now) == 12
    assert parse_retry_after("Mon, 23 Nov 2026 05:00:30 GMT", now) == 30
    assert parse_retry_after("Mon, 23 Nov 2026 04:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_policy_from_settings_uses_suitecrm_retries():
    s = SuiteCRMSettings(url="http://crm.test", retries=7)
    assert RetryPolicy.from_settings(s).retries == 7
