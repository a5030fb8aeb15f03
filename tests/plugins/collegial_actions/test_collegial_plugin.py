"""collegial_actions hooks: refusals, idempotent notices, polling-only reverts, doctor, CLI, settings."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from click.testing import CliRunner
from collegial_kit import PLUGIN, Refused, make_desk

import plugins.collegial_actions.plugin as plugin_module
from plugins.collegial_actions.cli import collegial
from suitecrm_ext import Event, EventKind, FieldChange, RecordChange
from suitecrm_ext.cli import CliState
from suitecrm_ext.config import ConfigError
from suitecrm_ext.testing import FakeCRM, build_app, build_config, build_registry

TODAY = dt.datetime.now(dt.timezone.utc).date()


def refusal(fn, *args, **kw) -> str:
    with pytest.raises(Refused) as err:
        fn(*args, **kw)
    return str(err.value)


def planned(desk, doc_type="classic"):
    """A document with one action of each kind, moved to Voting."""
    doc = desk.document("u-author", "Plan", doc_type)
    ids = {k: desk.action("u-author", doc, k, u) for k, u in
           [("voting", "u-voter1"), ("approval", "u-approver"), ("signing", "u-signer"),
            ("acknowledgement", "u-reader")]}
    return doc, ids


# --- refusals: bad input changes nothing ---------------------------------------------------------


@pytest.mark.parametrize("values,needle", [
    ({"kind": "reading"}, "Unknown action kind 'reading'"),
    ({"parent_id": ""}, "needs a parent record"),
    ({"parent_id": "no-such-doc"}, "The parent document no-such-doc does not exist."),
    ({"outcome": "maybe"},
     "'maybe' is not an outcome of a voting action; choose one of for, against, abstain"),
])
def test_bad_new_action_is_refused_and_not_saved(desk, values, needle):
    doc = desk.document("u-author", "D", "flexible")
    base = {"name": "x", "parent_type": "Documents", "parent_id": doc, "kind": "voting",
            "assigned_user_id": "u-voter1"}
    assert needle in refusal(desk.save, "u-voter1", "ca_CollegialActions", {**base, **values})
    assert desk.crm.count("ca_CollegialActions") == 0


def test_action_for_a_passed_stage_is_refused(desk):
    doc, ids = planned(desk)
    desk.move("u-author", doc, "Voting")
    desk.action("u-author", doc, "voting", "u-voter2")  # the current stage: fine
    desk.act("u-voter1", ids["voting"], "for")
    desk.act("u-voter2", desk.crm.records("ca_CollegialActions")[-1].id, "for")
    desk.move("u-author", doc, "Approval")
    msg = refusal(desk.action, "u-author", doc, "voting", "u-voter2")
    assert msg == ("The document is already past Voting (it is Approval); a voting action can only be added "
                   "after sending the document back to Preparation.")
    assert desk.crm.count("ca_CollegialActions") == 5


def test_new_document_must_start_in_preparation_and_type_is_fixed_after(desk):
    msg = refusal(desk.save, "u-author", "Documents",
                  {"document_name": "X", "ca_doc_type_c": "classic", "ca_status_c": "Signing"})
    assert msg == "A new document starts in Preparation, not Signing."
    doc, _ = planned(desk)
    desk.move("u-author", doc, "Voting")
    msg = refusal(desk.save, "u-author", "Documents", {"id": doc, "ca_doc_type_c": "flexible"})
    assert "document type can only be changed in Preparation" in msg
    desk.move("u-author", doc, "Preparation")
    desk.save("u-author", "Documents", {"id": doc, "ca_doc_type_c": "flexible"})


def test_documents_without_a_mapped_type_are_not_governed(desk):
    doc = desk.save("u-author", "Documents", {"document_name": "Plain", "ca_status_c": "Preparation"})
    desk.move("u-author", doc, "Archived")  # no process: the plugin does not interfere
    assert desk.status(doc) == "Archived"


def test_expired_deputy_and_other_kind_are_refused(desk):
    doc, ids = planned(desk)
    desk.move("u-author", doc, "Voting")
    desk.save("u-author", "sx_Deputies", {"name": "old", "principal_id": "u-voter1", "deputy_id": "u-deputy",
                                          "kind": "all", "start_date": TODAY - dt.timedelta(days=10),
                                          "end_date": TODAY - dt.timedelta(days=1)})
    desk.save("u-author", "sx_Deputies", {"name": "sign", "principal_id": "u-voter1", "deputy_id": "u-deputy",
                                          "kind": "signing", "start_date": TODAY})
    msg = refusal(desk.act, "u-deputy", ids["voting"], "for")
    assert f"Denis Deputatov is not their deputy for voting on {TODAY.isoformat()}" in msg


@pytest.mark.parametrize("values,needle", [
    ({"principal_id": "u-signer", "deputy_id": "u-signer"}, "own deputy"),
    ({"kind": "reading"}, "Unknown action kind 'reading'"),
    ({"end_date": TODAY - dt.timedelta(days=5)}, "ends"),
    ({"start_date": None}, "needs a start date"),
])
def test_bad_deputy_assignment_is_refused(desk, values, needle):
    base = {"name": "d", "principal_id": "u-signer", "deputy_id": "u-deputy", "kind": "signing",
            "start_date": TODAY}
    assert needle in refusal(desk.save, "u-author", "sx_Deputies", {**base, **values})
    assert desk.crm.count("sx_Deputies") == 0


def test_unknown_acting_user_is_refused(desk):
    doc, ids = planned(desk)
    desk.move("u-author", doc, "Voting")
    change = RecordChange("ca_CollegialActions", ids["voting"], dict(desk.crm.get(
        "ca_CollegialActions", ids["voting"]).values), {"outcome": "for"}, user_id=None)
    msg = desk.registry.call_one(PLUGIN, "ext_validate_record_change", change=change, ctx=desk.ctx)
    assert "Cannot tell who is acting" in msg


# --- at-least-once delivery: notices once --------------------------------------------------------


def test_same_event_twice_gives_one_task_and_one_mail(desk, smtp_server):
    doc, _ = planned(desk)
    desk.move("u-author", doc, "Voting")
    stage_event = desk.events[-1]
    desk.deliver(stage_event)
    desk.deliver(stage_event)
    assert len(desk.tasks_for("u-voter1")) == 1
    assert len(smtp_server.to("voter1@example.test")) == 1


def test_task_survives_a_lost_state_write(desk, smtp_server):
    """A crash after the Task save but before the state write: the retry finds the Task in SuiteCRM."""
    doc, _ = planned(desk)
    desk.move("u-author", doc, "Voting")
    ev = desk.events[-1]
    for key in desk.ctx.state.kv_keys("collegial_actions", "task:"):
        desk.ctx.state.kv_delete("collegial_actions", key)
    desk.deliver(ev)
    assert len(desk.tasks_for("u-voter1")) == 1


def test_smtp_down_fails_the_delivery_for_retry_without_duplicating_tasks(tmp_path):
    desk = make_desk(tmp_path, None)  # nothing listens on the configured port
    doc = desk.document("u-author", "D", "flexible")
    desk.action("u-author", doc, "acknowledgement", "u-reader")
    with pytest.raises(Exception, match="cannot send mail through 127.0.0.1"):
        desk.move("u-author", doc, "Acknowledgement")
    ev = desk.events[-1]
    with pytest.raises(Exception, match="cannot send mail"):
        desk.deliver(ev)  # the dispatcher's retry
    assert len(desk.tasks_for("u-reader")) == 1
    desk.ctx.app.close()


def test_notifications_can_be_switched_off(tmp_path):
    desk = make_desk(tmp_path, None, notify={"email": False, "tasks": False})
    doc = desk.document("u-author", "D", "flexible")
    desk.action("u-author", doc, "acknowledgement", "u-reader")
    desk.move("u-author", doc, "Acknowledgement")  # no SMTP server: would fail if it tried
    assert desk.tasks_for("u-reader") == []
    desk.ctx.app.close()


# --- polling only: revert with a note --------------------------------------------------------------


def test_polling_only_reverts_a_forbidden_status_change_with_a_note(tmp_path, smtp_server):
    desk = make_desk(tmp_path, smtp_server.port, polling_only=True)
    doc, _ = planned(desk)
    # SuiteCRM saved it without asking (no validation hook): the poller reports the change
    desk.crm.user_id = "u-author"
    desk.tick()
    desk.crm.save("Documents", {"id": doc, "ca_status_c": "Archived"})
    ev = Event("Documents", doc, EventKind.UPDATED, desk.now(), "poll",
               {"ca_status_c": FieldChange("Preparation", "Archived")}, user_id="u-author")
    desk.deliver(ev)
    assert desk.status(doc) == "Preparation"
    [note] = desk.crm.records("Notes")
    assert note.get("parent_id") == doc and note.get("name") == "Status change to Archived reverted"
    assert note.get("description").startswith(
        "The change of status from Preparation to Archived was reverted: Cannot move from Preparation to "
        "Archived: the Voting, Approval, Signing, Acknowledgement stages have actions, so the document must "
        "go through them; the next status is Voting.")
    # the poller then sees the revert itself: no second revert, no second note, no loop
    desk.tick()
    back = Event("Documents", doc, EventKind.UPDATED, desk.now(), "poll",
                 {"ca_status_c": FieldChange("Archived", "Preparation")}, user_id="u-sidecar")
    desk.deliver(back)
    desk.deliver(ev)  # and a redelivery of the first event changes nothing either
    assert desk.status(doc) == "Preparation"
    assert len(desk.crm.records("Notes")) == 1
    # an allowed change is left alone (and its assignees are told)
    desk.crm.save("Documents", {"id": doc, "ca_status_c": "Voting"})
    desk.tick()
    desk.deliver(Event("Documents", doc, EventKind.UPDATED, desk.now(), "poll",
                       {"ca_status_c": FieldChange("Preparation", "Voting")}, user_id="u-author"))
    assert desk.status(doc) == "Voting"
    assert len(desk.tasks_for("u-voter1")) == 1
    desk.ctx.app.close()


# --- doctor ------------------------------------------------------------------------------------


def test_doctor_checks_modules_and_fields(desk):
    checks = desk.registry.call_one(PLUGIN, "ext_doctor_checks", ctx=desk.ctx)
    assert [c.ok for c in checks] == [True, True]  # the deputies module is checked by the core's plugin:
    core = desk.registry.call_one("workflow", "ext_doctor_checks", ctx=desk.ctx.app.for_plugin("workflow"))
    assert [c.name for c in core if c.ok] == ["workflow module sx_Deputies", "workflow module sx_Decisions"]
    bare = FakeCRM()  # SuiteCRM without the plugin's package
    app = build_app(desk.registry, config=desk.ctx.app.config, crm=bare)
    checks = desk.registry.call_one(PLUGIN, "ext_doctor_checks", ctx=app.for_plugin(PLUGIN))
    by_name = {c.name: c for c in checks}
    docs = by_name["collegial_actions module Documents"]
    assert not docs.ok and docs.detail == "missing field(s): ca_doc_type_c, ca_status_c"
    assert "package build" in docs.hint
    assert not by_name["collegial_actions module ca_CollegialActions"].ok


def test_artifacts_and_watch():
    path = plugin_module.ext_suitecrm_artifacts()
    assert path.name == "schema.yaml" and path.exists()
    specs = plugin_module.ext_watch(None)
    # deputies moved to the core: its built-in plugin "workflow" watches (and validates) them
    assert {s.module for s in specs} == {"Documents", "ca_CollegialActions"}
    import suitecrm_ext.workflow.plugin as workflow_plugin
    assert {s.module for s in workflow_plugin.ext_watch(None)} == {"sx_Deputies"}


def test_schema_yaml_is_valid_in_the_package_format():
    from suitecrm_ext.packaging.schema import load_schema_file

    schema = load_schema_file(plugin_module.ext_suitecrm_artifacts(), PLUGIN)
    assert {m.name for m in schema.modules} == {"ca_CollegialActions"}  # deputies: the core package's
    import suitecrm_ext.workflow.plugin as workflow_plugin
    core = load_schema_file(workflow_plugin.ext_suitecrm_artifacts(), "workflow")
    assert "sx_Deputies" in {m.name for m in core.modules}
    options = {d.name: d.keys for d in schema.dropdowns}
    assert options["ca_status_list"] == ("Preparation", "Voting", "Approval", "Signing", "Acknowledgement",
                                         "Archived", "Rejected")


# --- CLI ---------------------------------------------------------------------------------------


def run_cli(desk, *args):
    # CliState() reconfigures logging process-wide (handlers, propagate=False); put it back afterwards
    # so later tests' caplog still sees log records
    names = ("suitecrm_ext", "plugins", "urllib3", "zeep", "pymysql")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level)
             for n in names}
    try:
        state = CliState()
        state._loaded = (desk.ctx.app.config, desk.registry)
        state._app = desk.ctx.app
        return CliRunner().invoke(collegial, list(args), obj=state, catch_exceptions=False)
    finally:
        for n, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(n)
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.setLevel(level)


def test_cli_status_shows_actions_deputy_and_blocker(desk, smtp_server):
    doc, ids = planned(desk)
    desk.move("u-author", doc, "Voting")
    desk.act("u-voter1", ids["voting"], "for")
    desk.move("u-author", doc, "Approval")
    desk.save("u-author", "sx_Deputies", {"name": "d", "principal_id": "u-approver", "deputy_id": "u-deputy",
                                          "kind": "all", "start_date": TODAY})
    desk.act("u-deputy", ids["approval"], "approved")
    desk.move("u-author", doc, "Signing")
    result = run_cli(desk, "status", doc)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Process: Classic (type classic)" in out and "Status: Signing" in out
    assert "approval" in out and "Anna Approverova" in out and "acted by Denis Deputatov (deputy)" in out
    assert "Next step: Acknowledgement - blocked. Cannot move from Signing to Acknowledgement: signing by " \
           "Semyon Signerov is pending." in out
    assert "Allowed now: Preparation, Rejected" in out


def test_cli_status_of_unknown_document_and_deputies_list(desk):
    result = run_cli(desk, "status", "nope")
    assert result.exit_code == 1 and "no Documents record with id 'nope'" in result.output
    assert "No deputies in force" in run_cli(desk, "deputies").output
    desk.save("u-author", "sx_Deputies", {"name": "d", "principal_id": "u-signer", "deputy_id": "u-deputy",
                                          "kind": "signing", "start_date": TODAY,
                                          "end_date": TODAY + dt.timedelta(days=3)})
    out = run_cli(desk, "deputies").output
    assert "Semyon Signerov" in out and "Denis Deputatov" in out and "signing" in out
    later = (TODAY + dt.timedelta(days=4)).isoformat()
    assert "No deputies in force on " + later in run_cli(desk, "deputies", "--on", later).output


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("section,needle", [
    ({"document_types": {"contract": "fancy"}}, "document_types.contract: unknown process 'fancy'"),
    ({"default_process": "fancy"}, "default_process: unknown process 'fancy'"),
    ({"polling": True}, "plugins.collegial_actions.polling: unknown key"),
    ({"status_field": "status c"}, "is not a SuiteCRM module/field name"),
    ({"processes": {"mine": {"stages": [{"status": "Draft"}, {"status": "Archived"}]}}},
     "first stage must be Preparation"),
])
def test_bad_settings_are_reported_with_the_key(section, needle):
    with pytest.raises(ConfigError) as err:
        build_registry({PLUGIN: plugin_module}, config=build_config(plugins={PLUGIN: section}))
    assert needle in str(err.value)


def test_a_configured_process_governs_its_document_type(tmp_path, smtp_server):
    board = {"label": "Board", "minimum": {"voting": 2, "acknowledgement": 1},
             "stages": [{"status": "Preparation"}, {"status": "Voting", "kind": "voting", "gate": "positive"},
                        {"status": "Acknowledgement", "kind": "acknowledgement"}, {"status": "Archived"}]}
    desk = make_desk(tmp_path, smtp_server.port, processes={"board": board},
                     document_types={"flexible": "flexible", "board_decision": "board"})
    doc = desk.save("u-author", "Documents", {"document_name": "Decision", "ca_doc_type_c": "board_decision",
                                              "ca_status_c": "Preparation"})
    desk.action("u-author", doc, "acknowledgement", "u-reader")
    v = desk.action("u-author", doc, "voting", "u-voter1")
    assert "the Board process needs at least 2 voting actions (the document has 1)" in \
        refusal(desk.move, "u-author", doc, "Voting")
    desk.action("u-author", doc, "voting", "u-voter2")
    desk.move("u-author", doc, "Voting")
    desk.act("u-voter1", v, "against")
    assert "voting by Vera Voterova is against" in refusal(desk.move, "u-author", doc, "Acknowledgement")
    desk.ctx.app.close()


def test_action_created_from_the_subpanel_is_validated_against_its_document(desk):
    doc = desk.document("u-author", "S", "simplified")
    via_subpanel = {"name": "x", "kind": "approval", "assigned_user_id": "u-approver",
                    "ca_documents_actionsdocuments_ida": doc}
    change = RecordChange("ca_CollegialActions", None, {}, via_subpanel, user_id="u-author")
    msg = desk.registry.call_one(PLUGIN, "ext_validate_record_change", change=change, ctx=desk.ctx)
    assert msg == ("The Simplified process has no approval actions "
                   "(it uses: voting, signing, acknowledgement).")


def test_actions_on_other_modules_are_only_checked_for_who_acts(desk):
    desk.crm.user_id = "u-author"
    acc = desk.crm.save("Accounts", {"name": "Client"})
    aid = desk.save("u-author", "ca_CollegialActions", {"name": "ok?", "parent_type": "Accounts",
                                                         "parent_id": acc, "kind": "approval",
                                                         "assigned_user_id": "u-approver"})
    assert "may not perform" in refusal(desk.act, "u-stranger", aid, "approved")
    desk.act("u-approver", aid, "approved")
    assert desk.crm.get("ca_CollegialActions", aid).get("acted_by_id") == "u-approver"


def test_polling_only_reverts_an_outcome_set_by_someone_not_entitled(tmp_path, smtp_server):
    desk = make_desk(tmp_path, smtp_server.port, polling_only=True)
    doc, ids = planned(desk)
    desk.move("u-author", doc, "Voting")
    vote = ids["voting"]
    # saved in SuiteCRM without validation by a stranger; the poller reports it
    desk.crm.user_id = "u-stranger"
    desk.tick()
    desk.crm.save("ca_CollegialActions", {"id": vote, "outcome": "against"})
    ev = Event("ca_CollegialActions", vote, EventKind.UPDATED, desk.now(), "poll",
               {"outcome": FieldChange("", "against")}, user_id="u-stranger")
    desk.deliver(ev)
    rec = desk.crm.get("ca_CollegialActions", vote)
    assert rec.get("outcome") == "" and rec.get("acted_by_id") == ""
    [note] = desk.crm.records("Notes")
    assert note.get("parent_id") == doc
    assert "Stepan Strangerov may not perform this voting action" in note.get("description")
    # our revert comes back through the poller: left alone; a redelivery changes nothing
    desk.tick()
    desk.deliver(Event("ca_CollegialActions", vote, EventKind.UPDATED, desk.now(), "poll",
                       {"outcome": FieldChange("against", "")}, user_id="u-sidecar"))
    desk.deliver(ev)
    assert len(desk.crm.records("Notes")) == 1
    # the assignee's own vote stays, and acted_by is filled
    desk.crm.user_id = "u-voter1"
    desk.tick()
    desk.crm.save("ca_CollegialActions", {"id": vote, "outcome": "for"})
    desk.deliver(Event("ca_CollegialActions", vote, EventKind.UPDATED, desk.now(), "poll",
                       {"outcome": FieldChange("", "for")}, user_id="u-voter1"))
    rec = desk.crm.get("ca_CollegialActions", vote)
    assert rec.get("outcome") == "for" and rec.get("acted_by_id") == "u-voter1"
    desk.ctx.app.close()


def test_through_the_dispatcher_a_mail_outage_is_retried_without_duplicates(tmp_path):
    """The real dispatcher and state store: SMTP is down, the delivery fails and is retried; once the
    server is up the assignee gets exactly one Task and one e-mail."""
    import time

    from suitecrm_ext.events.dispatcher import Dispatcher
    from suitecrm_ext.testing import free_port, smtp_server

    port = free_port()
    desk = make_desk(tmp_path, port, events={"retry_base_seconds": 0.001, "max_attempts": 5})
    doc = desk.document("u-author", "Queued", "flexible")
    desk.action("u-author", doc, "acknowledgement", "u-reader")
    desk.direct = False
    desk.move("u-author", doc, "Acknowledgement")
    store = desk.ctx.state
    store.enqueue(desk.pending)
    dispatcher = Dispatcher(desk.ctx.app, desk.registry, worker_id="test")
    stats = dispatcher.drain(max_passes=1)
    assert (stats.handled, stats.failed) == (0, 1)
    assert len(desk.tasks_for("u-reader")) == 1  # the Task was made before the mail failed

    with smtp_server(port=port) as server:
        for _ in range(100):  # the retry is due after a few milliseconds
            stats = dispatcher.drain()
            if stats.handled:
                break
            time.sleep(0.01)
        assert stats.handled == 1
    assert len(server.to("reader@example.test")) == 1
    assert len(desk.tasks_for("u-reader")) == 1
    desk.ctx.app.close()


def test_a_crm_outage_during_validation_is_an_error_not_a_wrong_answer(desk, monkeypatch):
    """'The parent document does not exist' only when it does not; a transport error refuses the change
    with its own message (issue 11: a reader error must never turn into "allow", whatever the fail mode)."""
    from suitecrm_ext import TransientError

    doc = desk.document("u-author", "D", "flexible")

    def down(*a, **kw):
        raise TransientError("connection refused", transport="rest")

    monkeypatch.setattr(desk.crm, "get", down)
    change = RecordChange("ca_CollegialActions", None, {}, {"name": "x", "parent_type": "Documents",
                                                             "parent_id": doc, "kind": "voting",
                                                             "assigned_user_id": "u-voter1"}, "u-author")
    message = desk.registry.call_one(PLUGIN, "ext_validate_record_change", change=change, ctx=desk.ctx)
    assert message.startswith("The change cannot be checked now (reading SuiteCRM failed: TransientError)")
    assert "does not exist" not in message


def test_a_failing_read_refuses_a_status_change_even_with_fail_open(desk, monkeypatch):
    """Issue 11: with read_via mysql a read of the actions failed and the save was allowed (fail-open);
    a reader error in validation now refuses the change, and nothing is saved."""
    from suitecrm_ext import ValidationError

    doc, _ = planned(desk)

    def broken(*a, **kw):
        raise ValidationError("Users has no field(s) 'email1'", transport="mysql")

    monkeypatch.setattr(desk.crm, "find", broken)
    msg = refusal(desk.move, "u-author", doc, "Voting")
    assert "cannot be checked now" in msg and "refused" in msg
    monkeypatch.undo()
    assert desk.status(doc) == "Preparation"


def test_user_email_from_the_api_when_the_reader_cannot_give_it(desk):
    """The MySQL reader has no email1 column: the directory asks the gateway's API writer for it."""
    from plugins.collegial_actions.records import Directory
    from suitecrm_ext import ValidationError

    class Reader:
        def get(self, module, id, fields=None):
            if "email1" in (fields or []):
                raise ValidationError("Users has no field(s) 'email1'", transport="mysql")
            return desk.crm.get(module, id, fields)

    class Gw(Reader):
        writer = desk.crm

    assert Directory(Gw()).user("u-voter1").email == "voter1@example.test"


def test_status_changes_and_outcomes_go_to_the_core_decision_log(desk):
    """Every document status change and every outcome is a Decisions record in the document's subpanel,
    with who acted and, for a deputy, for whom; a redelivered event adds nothing."""
    from suitecrm_ext.workflow import DecisionLog

    doc, ids = planned(desk)
    desk.move("u-author", doc, "Voting")
    desk.save("u-author", "sx_Deputies", {"name": "d", "principal_id": "u-voter1", "deputy_id": "u-deputy",
                                          "kind": "voting", "start_date": TODAY})
    desk.act("u-deputy", ids["voting"], "for")
    desk.deliver(desk.events[-1])  # at least once: the same event again
    hist = DecisionLog(desk.crm).history("Documents", doc)
    assert [(h.transition, h.from_status, h.to_status, h.decision, h.acted_by_id, h.on_behalf_of_id)
            for h in hist] == [("status", "Preparation", "Voting", "", "u-author", ""),
                               ("voting", "", "", "for", "u-deputy", "u-voter1")]
    subpanel = [r.id for r in desk.crm.related("Documents", doc, "sx_decisions_documents", ["id"])]
    assert sorted(subpanel) == sorted(h.id for h in hist)
