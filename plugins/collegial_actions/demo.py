"""collegial_actions' scene in ``suitecrm-ext demo``: a contract through the Classic process.

Users save records as they would in SuiteCRM (``stage.save``: validated by the sidecar before the
save, pushed after it); the sidecar refuses what the process forbids and gives each assignee a Task
when their stage starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suitecrm_ext.demo import DemoScene, DemoStage, Refused, install_plugin_schema

SALLY, MAX, WILL = "seed_sally_id", "seed_max_id", "seed_will_id"
SARAH, CHRIS = "seed_sarah_id", "seed_chris_id"
DOC = "Supply contract No. 17"
ACTIONS = "ca_CollegialActions"


def setup(crm: Any, workdir: Path) -> None:
    """The plugin's modules and Documents fields, and the core workflow package (deputies) it builds on,
    as their packages add them to SuiteCRM."""
    from plugins.collegial_actions import plugin

    install_plugin_schema(crm, "workflow")
    install_plugin_schema(crm, plugin)


def _tasks(stage: DemoStage, user: str) -> list[str]:
    return [str(t.get("name")) for t in stage.crm.records("Tasks")
            if t.get("assigned_user_id") == user and not t.get("deleted")]


def _refused(stage: DemoStage, who: str, what: str, module: str, values: dict) -> str:
    try:
        stage.save(module, values, user=who)
    except Refused as exc:
        stage.say(f"{stage.user_name(who)} tries to {what}: refused —")
        stage.say(f'    "{exc.message}"')
        return exc.message
    raise AssertionError(f"{what} was not refused")


def play(stage: DemoStage) -> None:
    """Preparation → Approval → Signing → Acknowledgement → Archived, with two refusals on the way."""
    name = stage.user_name
    doc = stage.save("Documents", {"document_name": DOC, "ca_doc_type_c": "classic",
                                   "ca_status_c": "Preparation", "assigned_user_id": SALLY}, user=SALLY)
    stage.say(f'{name(SALLY)} creates the Document "{DOC}" (type classic): Preparation')
    actions = {}
    for kind, who in (("approval", MAX), ("signing", WILL), ("acknowledgement", SARAH)):
        action = {"name": f"{kind}: {name(who)}", "parent_type": "Documents", "parent_id": doc, "kind": kind,
                  "assigned_user_id": who}
        actions[kind] = stage.save(ACTIONS, action, user=SALLY)
    stage.say(f"... and adds an approval ({name(MAX)}), a signing ({name(WILL)}) and an acknowledgement "
              f"({name(SARAH)})")
    message = _refused(stage, SALLY, "move it straight to Signing", "Documents",
                       {"id": doc, "ca_status_c": "Signing"})
    stage.check("Approval" in message, "a stage with pending actions cannot be skipped")

    stage.save("Documents", {"id": doc, "ca_status_c": "Approval"}, user=SALLY)
    stage.say(f"{name(SALLY)} moves it to Approval")
    stage.check(f"Approval: {DOC}" in _tasks(stage, MAX), f"{name(MAX)} got a Task for the approval")

    _refused(stage, CHRIS, f"approve in {name(MAX)}'s stead", ACTIONS,
             {"id": actions["approval"], "outcome": "approved"})
    stage.save(ACTIONS, {"id": actions["approval"], "outcome": "approved"}, user=MAX)
    acted = stage.crm.get(ACTIONS, actions["approval"])
    stage.say(f"{name(MAX)} approves")
    stage.check(acted.get("acted_by_id") == MAX, "the action records who acted and when")

    for status, kind, who, outcome in (("Signing", "signing", WILL, "signed"),
                                       ("Acknowledgement", "acknowledgement", SARAH, "acknowledged")):
        stage.save("Documents", {"id": doc, "ca_status_c": status}, user=SALLY)
        stage.check(f"{status}: {DOC}" in _tasks(stage, who), f"{status}: {name(who)} got a Task")
        stage.save(ACTIONS, {"id": actions[kind], "outcome": outcome}, user=who)
        stage.say(f"{name(who)}: {outcome}")
    stage.save("Documents", {"id": doc, "ca_status_c": "Archived"}, user=SALLY)
    final = stage.crm.get("Documents", doc).get("ca_status_c")
    stage.say(f"{name(SALLY)} archives the document: {final}")
    stage.check(final == "Archived", "the document went through the whole Classic process")


def scenes() -> list[DemoScene]:
    """The scene (e-mail notices off: the demo has no SMTP server; Tasks on)."""
    return [DemoScene("A contract goes through the Classic approval process", play, setup=setup,
                      settings={"notify": {"email": False}}, requires=("workflow",))]
