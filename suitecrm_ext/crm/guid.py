"""SuiteCRM-style record ids, generated on the client side.

SuiteCRM's ``create_guid()`` builds ``8-4-4-4-12`` lowercase hex ids that are *not* RFC 4122 UUIDs: the first
group starts with the microseconds of the current second (5 hex digits), the last group with the Unix time
(first 6 hex digits), the rest is random. We make ids of the same shape so they look native in SuiteCRM
and sort roughly by creation time there too. Creating with a client-chosen id (``new_with_id``) is what
makes a retried create safe: see :mod:`suitecrm_ext.crm.rest_v4`.
"""

from __future__ import annotations

import re
import secrets
import time

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_guid(now: float | None = None) -> str:
    """A new SuiteCRM-shaped id (36 chars, lowercase hex groups 8-4-4-4-12)."""
    now = time.time() if now is None else now
    micro = int((now % 1) * 1_000_000)
    dec_hex = f"{micro:05x}"[:5]
    sec_hex = f"{int(now):06x}"[:6]
    rnd = secrets.token_hex(11)
    return f"{dec_hex}{rnd[:3]}-{rnd[3:7]}-{rnd[7:11]}-{rnd[11:15]}-{sec_hex}{rnd[15:21]}"


def is_guid(value: str) -> bool:
    """True when ``value`` has the 8-4-4-4-12 lowercase hex shape SuiteCRM uses."""
    return bool(GUID_RE.match(value or ""))
