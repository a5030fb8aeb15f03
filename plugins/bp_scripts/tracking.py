"""Delivery statuses of sent SMS: asked from the provider until final, kept in state and in the record's
Note."""

from __future__ import annotations

import time
from typing import Any

from suitecrm_ext import CRMError

from .scripts.send_sms import NS_TRACK, note_text
from .sms import SmsUnavailable
from .sms.base import FINAL_STATES

#: a message whose status is still not final after this long is left as it is
MAX_AGE = 2 * 86400


def poll_statuses(
    crm: Any,
    state: Any,
    providers: dict[str, Any],
    *,
    every: float,
    now: float | None = None,
    limit: int = 200,
) -> dict[str, int]:
    """Ask for the status of sent messages due a check; update their Notes. Returns counts."""
    now = time.time() if now is None else now
    counts = {"checked": 0, "changed": 0, "final": 0}
    keys = state.kv_keys(NS_TRACK, limit=5000)
    for key, entry in state.kv_get_many(NS_TRACK, keys).items():
        if counts["checked"] >= limit:
            break
        if entry.get("status") in FINAL_STATES or now - float(entry.get("sent_at") or 0) > MAX_AGE:
            continue
        if now - float(entry.get("checked") or 0) < every:
            continue
        provider = providers.get(entry.get("provider"))
        if provider is None:
            continue
        counts["checked"] += 1
        try:
            st = provider.status(
                entry["phone"], entry.get("provider_id", ""), int(entry.get("client_id") or 0)
            )
        except SmsUnavailable:
            entry["checked"] = now
            state.kv_set(NS_TRACK, key, entry)
            continue
        changed = st.state != entry.get("status")
        entry.update(checked=now, status=st.state, detail=st.detail or entry.get("detail", ""), code=st.code)
        state.kv_set(NS_TRACK, key, entry)
        if changed:
            counts["changed"] += 1
            if entry.get("note_id"):
                name, body = note_text(entry, entry)
                try:
                    crm.save("Notes", {"id": entry["note_id"], "name": name, "description": body})
                except CRMError:
                    pass
        if st.final:
            counts["final"] += 1
    return counts


def status_of(state: Any, step_key: str) -> dict[str, Any] | None:
    """The tracked status of the SMS a step sent."""
    return state.kv_get(NS_TRACK, step_key)
