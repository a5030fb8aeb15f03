"""Request signing: what verify() accepts and every way it refuses (the HTTP tests cover the wiring).

Standard Webhooks is the scheme of the hook; the legacy X-SuiteCRM-Ext-* scheme is still accepted for
one release. The reference implementation (the ``standardwebhooks`` package) checks that our headers
are the standard's, both ways.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from suitecrm_ext.events.signing import (
    ID_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    STD_SIGNATURE_HEADER,
    STD_TIMESTAMP_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    Verified,
    hmac_key,
    sign,
    sign_standard,
    signed_headers,
    standard_headers,
    verify,
)

SECRET = "s3cret-value-for-tests-0123"
OLD_SECRET = "the-previous-secret-4567"
BODY = b'{"module":"Accounts"}'
NOW = 1_763_889_000
MID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def std(**over):
    h = standard_headers(SECRET, BODY, message_id=MID, timestamp=NOW)
    h.update(over)
    return h


def legacy(**over):
    h = signed_headers(SECRET, BODY, timestamp=NOW, nonce="a" * 32)
    h.update(over)
    return h


def test_a_good_standard_request_returns_its_id():
    assert verify(SECRET, std(), BODY, max_skew_seconds=300, now=NOW + 299) == Verified("standard", MID)


def test_the_standardwebhooks_reference_accepts_our_signature_and_we_accept_its():
    body = json.dumps({"module": "Accounts", "name": "Ünïcode"}).encode()
    ours = standard_headers(WHSEC, body, message_id=MID)
    assert Webhook(WHSEC).verify(body, ours) == json.loads(body)
    theirs = Webhook(WHSEC).sign(MID, dt.datetime.now(dt.timezone.utc), body.decode())
    headers = {ID_HEADER: MID, STD_TIMESTAMP_HEADER: ours[STD_TIMESTAMP_HEADER], STD_SIGNATURE_HEADER: theirs}
    assert verify(WHSEC, headers, body, max_skew_seconds=300).scheme == "standard"
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(body + b" ", ours)


def test_rotation_any_signature_under_any_secret():
    """The sender signs with every secret it holds; the receiver accepts any match with any of its own."""
    both = standard_headers([SECRET, OLD_SECRET], BODY, message_id=MID, timestamp=NOW)
    assert len(both[STD_SIGNATURE_HEADER].split()) == 2
    assert verify([OLD_SECRET], both, BODY, max_skew_seconds=300, now=NOW)
    only_old = standard_headers(OLD_SECRET, BODY, message_id=MID, timestamp=NOW)
    assert verify([SECRET, OLD_SECRET], only_old, BODY, max_skew_seconds=300, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify([SECRET], only_old, BODY, max_skew_seconds=300, now=NOW)


def test_signature_covers_id_timestamp_and_body():
    base = sign_standard(SECRET, MID, NOW, BODY)
    assert base.startswith("v1,") and len(base64.b64decode(base[3:])) == 32
    assert base != sign_standard(SECRET, MID + "x", NOW, BODY)
    assert base != sign_standard(SECRET, MID, NOW + 1, BODY)
    assert base != sign_standard(SECRET, MID, NOW, BODY + b" ")
    assert base != sign_standard(SECRET + "x", MID, NOW, BODY)


def test_unknown_signature_versions_are_skipped_and_v1_still_checked():
    good = std()[STD_SIGNATURE_HEADER]
    mixed = std(**{STD_SIGNATURE_HEADER: f"v1a,abcd {good}"})
    assert verify(SECRET, mixed, BODY, max_skew_seconds=300, now=NOW)


@pytest.mark.parametrize("over, body, now, message, reason", [
    ({}, BODY + b"x", NOW, "signature does not match", "forged"),
    ({STD_SIGNATURE_HEADER: "v1," + base64.b64encode(b"f" * 32).decode()}, BODY, NOW, "does not match",
     "forged"),
    ({STD_SIGNATURE_HEADER: "v1,not base64!"}, BODY, NOW, "not base64", "malformed"),
    ({STD_SIGNATURE_HEADER: "v2,abcd"}, BODY, NOW, "no v1 signature", "malformed"),
    ({STD_SIGNATURE_HEADER: " ".join(["v1,abcd"] * 9)}, BODY, NOW, "more than 8", "malformed"),
    ({STD_TIMESTAMP_HEADER: "2026-11-23"}, BODY, NOW, "expected UNIX seconds", "malformed"),
    ({ID_HEADER: "id with spaces"}, BODY, NOW, "1-256 characters", "malformed"),
    ({ID_HEADER: "x" * 257}, BODY, NOW, "1-256 characters", "malformed"),
    ({}, BODY, NOW + 301, "stale or future timestamp (301 s", "stale"),
    ({}, BODY, NOW - 301, "stale or future timestamp", "stale"),
])
def test_standard_refusals_name_the_problem(over, body, now, message, reason):
    with pytest.raises(SignatureError, match=message.replace("(", r"\(")) as info:
        verify(SECRET, std(**over), body, max_skew_seconds=300, now=now)
    assert info.value.reason == reason


@pytest.mark.parametrize("missing, reason", [(ID_HEADER, "malformed"), (STD_TIMESTAMP_HEADER, "malformed"),
                                             (STD_SIGNATURE_HEADER, "forged")])
def test_missing_standard_header(missing, reason):
    h = std()
    del h[missing]
    with pytest.raises(SignatureError, match=f"missing header {missing}") as info:
        verify(SECRET, h, BODY, max_skew_seconds=300, now=NOW)
    assert info.value.reason == reason


def test_no_signature_headers_at_all_is_forged():
    with pytest.raises(SignatureError, match="missing headers webhook-id") as info:
        verify(SECRET, {"Content-Type": "application/json"}, BODY, max_skew_seconds=300, now=NOW)
    assert info.value.reason == "forged"


def test_header_names_are_case_insensitive():
    for h in (std(), legacy()):
        lowered = {k.lower(): v for k, v in h.items()}
        upper = {k.upper(): v for k, v in h.items()}
        assert verify(SECRET, lowered, BODY, max_skew_seconds=300, now=NOW)
        assert verify(SECRET, upper, BODY, max_skew_seconds=300, now=NOW)


def test_whsec_secrets_use_the_decoded_key():
    assert hmac_key(WHSEC) == b"0123456789abcdef0123456789abcdef"
    assert hmac_key("plain-secret") == b"plain-secret"
    with pytest.raises(ValueError, match="not valid base64"):
        hmac_key("whsec_***")


# --- legacy scheme (0.1 hooks) ---------------------------------------------------------------------


def test_a_good_legacy_request_returns_its_nonce():
    assert verify(SECRET, legacy(), BODY, max_skew_seconds=300, now=NOW + 299) == Verified("legacy", "a" * 32)


def test_legacy_signature_covers_timestamp_nonce_and_body():
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
def test_legacy_refusals_name_the_problem(over, body, now, message):
    with pytest.raises(SignatureError, match=message.replace("(", r"\(")):
        verify(SECRET, legacy(**over), body, max_skew_seconds=300, now=now)


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER])
def test_missing_legacy_header(missing):
    h = legacy()
    del h[missing]
    with pytest.raises(SignatureError, match=f"missing header {missing}"):
        verify(SECRET, h, BODY, max_skew_seconds=300, now=NOW)


def test_refusal_messages_never_contain_the_secret_or_expected_signature():
    for make, expected in ((std, sign_standard(SECRET, MID, NOW, BODY + b"x")),
                           (legacy, sign(SECRET, str(NOW), "a" * 32, BODY + b"x"))):
        with pytest.raises(SignatureError) as info:
            verify(SECRET, make(), BODY + b"x", max_skew_seconds=300, now=NOW)
        assert SECRET not in str(info.value) and expected not in str(info.value)
        assert expected.removeprefix("v1,") not in str(info.value)


def test_empty_secret_is_refused():
    with pytest.raises(ValueError, match="secret is empty"):
        sign("", "1", "n" * 16, b"")
    with pytest.raises(ValueError, match="no signing secret"):
        verify([], std(), BODY, max_skew_seconds=300, now=NOW)
