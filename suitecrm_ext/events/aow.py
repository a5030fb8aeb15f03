"""SuiteCRM workflow (AOW) actions handed to the sidecar: ``POST /aow`` of the push receiver.

A package that ships an AOW action (schema ``aow_actions``, suitecrm_ext/packaging/aow.py) makes
SuiteCRM's workflow post, when the action runs on a record::

    {"action": "RunBPScript", "package": "sxt_bp_scripts", "action_id": "<AOW_Actions id>",
     "workflow_id": "<AOW_WorkFlow id>", "processed_id": "<AOW_Processed id>", "module": "Accounts",
     "id": "<record id>", "user_id": "1", "in_save": true, "params": {"script": "set_fields", ...}}

signed like the logic hook's posts. :func:`aow_call_from_push` checks it into an :class:`AowCall`;
:func:`run_aow_action` asks the enabled plugins implementing ``ext_aow_action`` (by name) until one
answers. The answer goes back to SuiteCRM: ``{"ok": true, ...}`` marks the action Complete in the
workflow's Processed Flows, anything else Failed.

One workflow run of one action on one record is :attr:`AowCall.key` (``<processed_id>:<action_id>``):
SuiteCRM keeps the AOW_Processed row of a run and, for a workflow that does not repeat, re-runs only
its actions that did not complete — a delivery of the same run again (a retry after a timeout, a
Failed action run again) has the same key, a new run of a repeating workflow a new one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from suitecrm_ext.events.push_body import BadRequest, _module, _opt_str, _req_str

log = logging.getLogger("suitecrm_ext.events.aow")

HOOK = "ext_aow_action"
_ACTION_RE = re.compile(r"^[A-Z][A-Za-z0-9]{0,39}\Z")
_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,36}\Z")
_MAX_PARAM = 64_000

__all__ = ["AowCall", "NoHandler", "aow_call_from_push", "run_aow_action"]


class NoHandler(LookupError):
    """No enabled plugin handles the posted action."""


@dataclass(frozen=True)
class AowCall:
    """One AOW action run on one record, as SuiteCRM's workflow posted it."""

    action: str
    module: str
    record_id: str
    action_id: str
    processed_id: str
    workflow_id: str = ""
    package: str = ""
    user_id: str | None = None
    in_save: bool = False
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The workflow run of this action: the same on every delivery of it (see the module docstring)."""
        return f"{self.processed_id}:{self.action_id}"


def _id(doc: Mapping[str, Any], name: str) -> str:
    value = _req_str(doc, name, 36)
    if not _ID_RE.match(value):
        raise BadRequest(f"{name}: not a SuiteCRM id: {value[:40]!r}")
    return value


def aow_call_from_push(doc: Mapping[str, Any]) -> AowCall:
    """The AowCall for a ``POST /aow`` body. Raises BadRequest naming the field."""
    action = _req_str(doc, "action", 40)
    if not _ACTION_RE.match(action):
        raise BadRequest(f"action: not an AOW action name: {action[:40]!r}")
    raw = doc.get("params")
    if raw in (None, []):  # PHP's json_encode writes an empty array as []
        raw = {}
    if not isinstance(raw, dict):
        raise BadRequest(f"params: expected an object, got {type(raw).__name__}")
    params: dict[str, str] = {}
    for name, value in raw.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadRequest(f"params.{name}: expected a string, got {type(value).__name__}")
        if len(value) > _MAX_PARAM:
            raise BadRequest(f"params.{name}: longer than {_MAX_PARAM} characters")
        params[str(name)] = value
    in_save = doc.get("in_save", False)
    if not isinstance(in_save, bool):
        raise BadRequest("in_save: expected true or false")
    return AowCall(
        action=action,
        module=_module(doc),
        record_id=_req_str(doc, "id"),
        action_id=_id(doc, "action_id"),
        processed_id=_id(doc, "processed_id"),
        workflow_id=_opt_str(doc, "workflow_id") or "",
        package=_opt_str(doc, "package") or "",
        user_id=_opt_str(doc, "user_id"),
        in_save=in_save,
        params=params,
    )


def run_aow_action(app: Any, registry: Any, call: AowCall) -> dict[str, Any]:
    """Ask the enabled plugins implementing ``ext_aow_action`` (by name) until one answers (not None);
    its answer (a JSON object; ``ok`` true when it took the work) goes back to SuiteCRM.

    Raises NoHandler when none answers; a plugin's exception propagates (the receiver answers 503 and
    SuiteCRM marks the action Failed).
    """
    for name in sorted(registry.enabled):
        if not registry.implements(name, HOOK):
            continue
        answer = registry.call_one(name, HOOK, call=call, ctx=app.for_plugin(name))
        if answer is None:
            continue
        if not isinstance(answer, Mapping):
            raise TypeError(f"plugin {name}: ext_aow_action returned {type(answer).__name__}, not a mapping")
        log.info("aow: %s on %s %s (run %s) -> plugin %s: %s", call.action, call.module, call.record_id,
                 call.key, name, "ok" if answer.get("ok") else answer.get("error", "not ok"))
        rest = {k: v for k, v in answer.items() if k != "ok"}
        return {**rest, "ok": bool(answer.get("ok")), "plugin": name}
    raise NoHandler(f"no enabled plugin runs the workflow action {call.action!r} "
                    f"(package {call.package or '?'}); enable the plugin that ships it")
