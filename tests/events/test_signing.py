"""Request signing: what verify() accepts and every way it refuses (the HTTP tests cover the wiring)."""

from __future__ import annotations

import pytest

from suitecrm_ext.events.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    signed_headers,
    verify,
)

SECRET = "s3cret-value-for-tests-0123"
BODY = b'{"module":"Accounts"}'
NOW = 1_763_889_000


def headers(**over):
    h = signed_headers(SECRET, BODY, timestamp=NOW, nonce="a" * 32)
    h.update(over)
    return h


def test_a_good_request_returns_its_nonce():
    assert verify(SECRET, headers(), BODY, max_skew_seconds=300, now=NOW + 299) == "a" * 32


def test_header_names_are_case_insensitive():
    lowered = {k.lower(): v for k, v in headers().items()}
    assert verify(SECRET, lowered, BODY, max_skew_seconds=300, now=NOW)


def test_signature_covers_timestamp_nonce_and_body():
    base = sign(SECRET, str(NOW), "a" * 32, BODY)
    assert base != sign(SECRET, str(NOW + 1), "a" * 32, BODY)
    assert base != sign(SECRET, str(NOW), "b" * 32, BODY)
    assert base != sign(SECRET, str(NOW), "a" * 32, BODY + b" ")
    assert base != sign(SECRET + "x", str(NOW), "a" * 32, BODY)


@pytest.mark.parametrize("over, body, now, message", [
    ({}, BODY + b"x", NOW, "signature does not match"),
    ({SIGNATURE_HEADER: "f" * 64}, BODY, NOW, "signature does not match"),
    ({SIGNATURE_HEADER: "xyz"}, BODY, NOW, "expected 64 hex digits"),
    ({TIMESTAMP_HEADER: "2026-11-23"}, BODY, NOW, "expected UNIX seconds"),
    ({NONCE_HEADER: "bad nonce with spaces!"}, BODY, NOW, "16-128 characters"),
    ({}, BODY, NOW + 301, "stale or future timestamp (301 s"),
    ({}, BODY, NOW - 301, "stale or future timestamp"),
])
def test_refusals_name_the_problem(over, body, now, message):
    with pytest.raises(SignatureError, match=message.replace("(", r"\(")):
        verify(SECRET, headers(**over), body, max_skew_seconds=300, now=now)


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
def test_missing_header(missing):
    h = headers()
    del h[missing]
    with pytest.raises(SignatureError, match=f"missing header {missing}"):
        verify(SECRET, h, BODY, max_skew_seconds=300, now=NOW)


def test_refusal_messages_never_contain_the_secret_or_expected_signature():
    expected = sign(SECRET, str(NOW), "a" * 32, BODY + b"x")
    with pytest.raises(SignatureError) as info:
        verify(SECRET, headers(), BODY + b"x", max_skew_seconds=300, now=NOW)
    assert SECRET not in str(info.value) and expected not in str(info.value)


def test_empty_secret_is_refused():
    with pytest.raises(ValueError, match="secret is empty"):
        sign("", "1", "n" * 16, b"")
