"""The core workflow package on a real SuiteCRM 7.14.6: decision log in the Documents subpanel, deputies,
notices (Tasks) — written through REST, read back through REST, MySQL and the web UI.

The core package comes from the shared live kit (``live_kit.install("workflow")``: SuiteCRM's own
installer with the package scan on, once per session, left installed for the plugin packages that need it).
"""

from __future__ import annotations

import datetime as dt

import pytest

from suitecrm_ext.crm.base import CRMError
from suitecrm_ext.lab import LabInstance
from suitecrm_ext.workflow import DecisionLog, DeputyBook, Notice, Notifier, WebUI


def _installed(lab: LabInstance) -> bool:
    crm = lab.transport("rest")
    try:
        return "decision_key" in crm.fields("sx_Decisions")
    except CRMError:
        return False
    finally:
        crm.close()


@pytest.fixture(scope="module")
def wf_lab(live_lab: LabInstance, live_kit):
    live_kit.install("workflow")  # the shared kit: package scan on, once per session, left installed
    assert _installed(live_lab)
    return live_lab


@pytest.fixture
def made(wf_lab):
    crm = wf_lab.transport("rest")
    rows: list[tuple[str, str]] = []
    yield crm, rows
    for module, rid in reversed(rows):
        try:
            crm.delete(module, rid)
        except CRMError:
            pass
    crm.close()


def test_decisions_are_records_in_the_documents_subpanel(wf_lab, made, run_tag):
    crm, rows = made
    doc = crm.save("Documents", {"document_name": f"{run_tag} contract", "status_id": "Active"})
    rows.append(("Documents", doc))
    log = DecisionLog(crm, links={"Documents": "sx_decisions_documents"})
    t0 = dt.datetime(2026, 2, 2, 9, 30, tzinfo=dt.timezone.utc)
    first = log.record(
        "Documents",
        doc,
        key=f"{run_tag}-1",
        actor_id="seed_sally_id",
        flow="collegial",
        transition="status",
        from_status="Preparation",
        to_status="Voting",
        at=t0,
    )
    rows.append(("sx_Decisions", first))
    second = log.record(
        "Documents",
        doc,
        key=f"{run_tag}-2",
        actor_id="seed_max_id",
        on_behalf_of="seed_sally_id",
        transition="signing",
        decision="signed",
        comment="подписано заместителем",
        at=t0 + dt.timedelta(hours=1),
    )
    rows.append(("sx_Decisions", second))
    assert log.record("Documents", doc, key=f"{run_tag}-1", actor_id="seed_sally_id") == first  # idempotent
    for flavour in ("rest", "mysql"):
        reader = wf_lab.transport(flavour)
        try:
            hist = DecisionLog(reader).history("Documents", doc)
            assert [(h.id, h.acted_by_id, h.on_behalf_of_id, h.acted_at) for h in hist] == [
                (first, "seed_sally_id", "", t0),
                (second, "seed_max_id", "seed_sally_id", t0 + dt.timedelta(hours=1)),
            ], flavour
            assert hist[1].comment == "подписано заместителем"
        finally:
            reader.close()
    assert sorted(r.id for r in crm.related("Documents", doc, "sx_decisions_documents", ["id"])) == sorted(
        [first, second]
    )
    # the user sees them in the document's subpanel
    web = WebUI(wf_lab.url, wf_lab["SUITECRM_USER"], wf_lab["SUITECRM_PASSWORD"])
    page = web.request("GET", {"module": "Documents", "action": "DetailView", "record": doc})
    assert "sx_decisions_documents" in page and "signed" in page


def test_deputies_and_idempotent_tasks_on_the_real_instance(wf_lab, made, run_tag):
    crm, rows = made
    book = DeputyBook(crm)
    day = dt.date(2026, 3, 2)
    aid = book.add(
        "seed_sally_id",
        "seed_max_id",
        "approval",
        day,
        day + dt.timedelta(days=4),
        name=f"{run_tag} sally away",
    )
    rows.append(("sx_Deputies", aid))
    for flavour in ("rest", "mysql"):
        reader = wf_lab.transport(flavour)
        try:
            b = DeputyBook(reader)
            ent = b.entitlement("approval", "seed_sally_id", "seed_max_id", day)
            assert ent and ent.on_behalf_of == "seed_sally_id", flavour
            assert not b.entitlement("approval", "seed_sally_id", "seed_max_id", day + dt.timedelta(days=5))
            assert not b.entitlement("signing", "seed_sally_id", "seed_max_id", day)
        finally:
            reader.close()

    class State(dict):
        def kv_get(self, ns, key):
            return self.get((ns, key))

        def kv_set(self, ns, key, value):
            self[(ns, key)] = value

    doc = crm.save("Documents", {"document_name": f"{run_tag} memo", "status_id": "Active"})
    rows.append(("Documents", doc))
    notice = Notice(
        f"{run_tag}-task", "seed_max_id", "", "Approve the memo", "Please approve.", "Documents", doc
    )
    tid = Notifier(crm, State()).task(notice)
    rows.append(("Tasks", tid))
    assert Notifier(crm, State()).task(notice) == tid  # state lost (a crash): found in SuiteCRM, not doubled
    task = crm.get("Tasks", tid, ["assigned_user_id", "parent_type", "parent_id", "status"])
    assert (task.get("assigned_user_id"), task.get("parent_type"), task.get("parent_id")) == (
        "seed_max_id",
        "Documents",
        doc,
    )


def test_a_bad_deputy_assignment_is_refused_in_the_web_ui(wf_lab, live_kit, made, run_tag):
    """The core package's validation hook on sx_Deputies: a user made their own deputy is refused before
    SuiteCRM saves it, with the reason shown; nothing is stored."""
    from webui import WebUI as Browser

    import suitecrm_ext.workflow.plugin as workflow_plugin

    crm, rows = made
    web = Browser(wf_lab)
    form = {"module": "sx_Deputies", "action": "Save", "record": "", "name": f"{run_tag} self",
            "principal_id": "seed_max_id", "deputy_id": "seed_max_id", "kind": "approval",
            "start_date": "03/02/2026"}
    with live_kit.receiver({"workflow": workflow_plugin}, config=live_kit.config(plugins={"workflow": {}})):
        page = web.post("index.php", form)
    assert "A user cannot be their own deputy." in page.text
    assert list(crm.find("sx_Deputies", {"name": f"{run_tag} self"}, ["id"])) == []
