"""HMAC-SHA256 request signing shared by the push receiver and the generated SuiteCRM logic hook.

A signed request carries three headers::

    X-SuiteCRM-Ext-Timestamp: 1763889000            (UNIX seconds, the sender's clock)
    X-SuiteCRM-Ext-Nonce:     5f0c9a...             (random, 16..128 chars of [A-Za-z0-9_-])
    X-SuiteCRM-Ext-Signature: 3b1f...               (hex HMAC-SHA256)

and the signature is ``hex(HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + body))`` over the raw
body bytes. The PHP side (``events/php/SuiteCRMExtHook.php.tmpl``) computes exactly the same with
``hash_hmac('sha256', $ts . "\\n" . $nonce . "\\n" . $body, $secret)``.

:func:`verify` checks presence, format, clock skew and the signature (constant-time comparison); the
replay check (nonce seen before) needs shared state and is done by the receiver with the state store.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as _secrets
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-SuiteCRM-Ext-Timestamp"
NONCE_HEADER = "X-SuiteCRM-Ext-Nonce"
SIGNATURE_HEADER = "X-SuiteCRM-Ext-Signature"

_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_TS_RE = re.compile(r"^[0-9]{1,12}$")
_SIG_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class SignatureError(Exception):
    """A request's signature headers are missing, malformed, stale or do not match.

    The message says which (never the secret or the expected signature).
    """


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ValueError("the signing secret is empty")
    return key


def sign(secret: str | bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp\\nnonce\\nbody`` under ``secret``."""
    msg = timestamp.encode("ascii") + b"\n" + nonce.encode("ascii") + b"\n" + body
    return hmac.new(_key(secret), msg, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str | bytes, body: bytes, *, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The three signature headers for ``body`` (a fresh nonce and the current time by default)."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    nonce = nonce or _secrets.token_hex(16)
    return {
        TIMESTAMP_HEADER: ts,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(secret, ts, nonce, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # http.client.HTTPMessage is case-insensitive; plain dicts may not be
        lowered = name.lower()
        for k, v in headers.items():
            if k.lower() == lowered:
                return v
    return value


def verify(
    secret: str | bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_skew_seconds: float,
    now: float | None = None,
) -> str:
    """Check a request's signature headers; returns its nonce (for the caller's replay check).

    Raises :class:`SignatureError` naming the problem: a missing or malformed header, a timestamp
    further than ``max_skew_seconds`` from ``now`` (either direction), or a signature that does not
    match. The signature is compared in constant time.
    """
    ts = _header(headers, TIMESTAMP_HEADER)
    nonce = _header(headers, NONCE_HEADER)
    sig = _header(headers, SIGNATURE_HEADER)
    for name, value in ((TIMESTAMP_HEADER, ts), (NONCE_HEADER, nonce), (SIGNATURE_HEADER, sig)):
        if not value:
            raise SignatureError(f"missing header {name}")
    ts, nonce, sig = ts.strip(), nonce.strip(), sig.strip()
    if not _TS_RE.match(ts):
        raise SignatureError(f"{TIMESTAMP_HEADER}: expected UNIX seconds, got {ts[:20]!r}")
    if not _NONCE_RE.match(nonce):
        raise SignatureError(f"{NONCE_HEADER}: expected 16-128 characters of [A-Za-z0-9_-]")
    if not _SIG_RE.match(sig):
        raise SignatureError(f"{SIGNATURE_HEADER}: expected 64 hex digits")
    current = time.time() if now is None else now
    skew = abs(current - int(ts))
    if skew > max_skew_seconds:
        raise SignatureError(
            f"{TIMESTAMP_HEADER}: stale or future timestamp ({int(skew)} s from this host's clock, "
            f"allowed {int(max_skew_seconds)} s)"
        )
    expected = sign(secret, ts, nonce, body)
    if not hmac.compare_digest(expected, sig.lower()):
        raise SignatureError("signature does not match (wrong secret or altered request)")
    return nonce
