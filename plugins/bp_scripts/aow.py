"""The SuiteCRM workflow (AOW) action "Run BP-script" (package schema ``aow_actions``: RunBPScript).

An admin adds the action to a SuiteCRM workflow, picks a script and writes its settings (YAML, the
same keys as in a process file's script step). When the workflow runs on a record, SuiteCRM posts the
call to the sidecar (``POST /aow``, suitecrm_ext.events.aow); :func:`take` checks the script and its
settings and stores a one-step run of the script on the record under an id made from the workflow
run's key, so the same run delivered again stores nothing new; the ``bp-advance`` job runs it (retries,
parking, the bp_Runs record on the record, as any run of ``bp run``).
"""

from __future__ import annotations

from typing import Any

import yaml

from suitecrm_ext import AowCall, PluginContext

from .runs import run_id_for

ACTION = "RunBPScript"
#: the pseudo-process of AOW-started runs in their ids (run_id_for)
PROCESS = "aow"


def take(call: AowCall, ctx: PluginContext) -> dict[str, Any] | None:
    """Store the run of ``call`` (None: not this plugin's action); the answer SuiteCRM gets."""
    if call.action != ACTION:
        return None
    from .service import engine_for

    engine = engine_for(ctx)
    script = (call.params.get("script") or "").strip()
    if script not in engine.catalogue:
        return {"ok": False, "error": f"no BP-script {script!r} (scripts: {', '.join(engine.catalogue)})"}
    text = call.params.get("settings") or ""
    try:
        settings = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        return {"ok": False, "error": f"settings of {script}: not YAML: {exc}"}
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        return {"ok": False, "error": f"settings of {script}: a mapping of setting: value, not {text[:60]!r}"}
    try:
        engine.catalogue[script].parse(settings)
    except Exception as exc:  # noqa: BLE001 - pydantic's message names the setting
        return {"ok": False, "error": f"settings of {script}: {exc}"}
    run_id = run_id_for(PROCESS, call.module, call.record_id, call.key)
    new = engine.runs.get(run_id) is None
    engine.start_adhoc(run_id, script, settings, call.module, call.record_id, trigger_key=f"aow:{call.key}",
                       advance=False)
    return {"ok": True, "run": run_id, "new": new}
