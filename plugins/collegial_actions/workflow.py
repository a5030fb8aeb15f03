"""What the plugin does on a change: validate it (before save) and keep documents moving (after).

The hooks in plugin.py hand over to :class:`DocumentWorkflow`; the decisions themselves are in rules.py
(status changes, adding and performing actions); who may perform an action (deputies), the Tasks and
e-mails come from the core workflow services (``suitecrm_ext.workflow``).

A validation that cannot read what it needs from SuiteCRM refuses the change (it never turns into
"allow"): the user sees why and may save again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from plugins.collegial_actions import records
from plugins.collegial_actions.records import Directory, value
from plugins.collegial_actions.rules import (
    PREPARATION,
    Action,
    Process,
    check_act,
    check_add_action,
    check_transition,
    stage_complete,
)
from plugins.collegial_actions.settings import Settings
from suitecrm_ext import Cond, CRMError, Event, EventKind, NotFound, RecordChange, all_of
from suitecrm_ext.workflow import DecisionLog, DeputyBook, Notice, Notifier, notice_key

#: state namespace and Task marker (``ref: collegial <key>``) of the plugin's notices
NS = "collegial_actions"
MARKER = "collegial"

#: the one-to-many relationship (and link) Documents -> ca_CollegialActions of schema.yaml
SUBPANEL_LINK = "ca_documents_actions"
#: the id field SuiteCRM sets on an action created from the Documents subpanel
SUBPANEL_ID_FIELD = "ca_documents_actionsdocuments_ida"


class DocumentWorkflow:
    """The plugin's behaviour over one CRM, state store and mailer."""

    def __init__(self, settings: Settings, crm, state=None, mailer=None, log=None, crm_url: str = "",
                 deputies_module: str = "sx_Deputies", decisions: DecisionLog | None = None):
        self.s = settings
        self.crm = crm
        self.state = state
        self.mailer = mailer
        self.log = log
        self.crm_url = crm_url.rstrip("/")
        self.directory = Directory(crm)
        self.deputies = DeputyBook(crm, deputies_module)
        #: the core decision log: every document status change and every outcome (who, for whom, when)
        self.decisions = decisions
        self.notifier = Notifier(crm, state, mailer, state_ns=NS, marker=MARKER,
                                 subject_prefix=settings.notify.subject_prefix)

    # --- reading ---------------------------------------------------------------------------

    def document(self, doc_id: str):
        """The document record (type, status, name, owner)."""
        return self.crm.get(self.s.documents_module, doc_id,
                            [self.s.type_field, self.s.status_field, "document_name", "assigned_user_id"])

    def process_of(self, doc) -> Process | None:
        """The process governing a document record, or None."""
        return self.s.process_for(doc.get(self.s.type_field))

    def status_of(self, doc) -> str:
        """The document's workflow status (empty = Preparation)."""
        return str(doc.get(self.s.status_field) or "") or PREPARATION

    def doc_title(self, doc) -> str:
        """How the document is named in messages."""
        return str(doc.get("document_name") or doc.get("name") or doc.id)

    # --- before save -----------------------------------------------------------------------

    def validate(self, change: RecordChange) -> str | None:
        """None to allow the change, or the reason to refuse it (also when SuiteCRM cannot be read)."""
        try:
            if change.module == self.s.documents_module:
                return self._validate_document(change)
            if change.module == self.s.actions_module:
                return self._validate_action(change)
        except CRMError as exc:
            if self.log:
                self.log.error("validation of %s %s could not read SuiteCRM: %s", change.module,
                               change.record_id or "(new)", exc)
            return ("The change cannot be checked now (reading SuiteCRM failed: "
                    f"{type(exc).__name__}), so it is refused. Please try again in a moment.")
        return None

    def _validate_document(self, change: RecordChange) -> str | None:
        s = self.s
        if not change.is_new and (s.type_field not in change.before or s.status_field not in change.before):
            # a partial fetched_row (e.g. from an API client): complete it from the stored record
            stored = self.document(change.record_id)
            change = RecordChange(change.module, change.record_id,
                                  {s.type_field: stored.get(s.type_field),
                                   s.status_field: stored.get(s.status_field), **change.before},
                                  change.after, change.user_id)
        doc_type = value(change.after, change.before, s.type_field)
        process = s.process_for(doc_type)
        old_process = s.process_for(change.before.get(s.type_field)) if not change.is_new else None
        new_status = str(value(change.after, change.before, s.status_field) or "") or PREPARATION
        if change.is_new:
            if process is not None and new_status != PREPARATION:
                return f"A new document starts in {PREPARATION}, not {new_status}."
            return None
        old_status = str(change.before.get(s.status_field) or "") or PREPARATION
        if s.type_field in change.changed and old_process is not None and old_status != PREPARATION:
            return (f"The document type can only be changed in {PREPARATION}; the document is {old_status}. "
                    f"Send it back to {PREPARATION} first.")
        if process is None or s.status_field not in change.changed:
            return None
        recs = records.action_records(self.crm, s, change.record_id)
        verdict = check_transition(process, old_status, new_status, [records.to_action(r) for r in recs])
        if verdict.allowed:
            return None
        # refused: only now look up the assignees' names for the message
        named = [records.to_action(r, self.directory) for r in recs]
        return check_transition(process, old_status, new_status, named).reason

    def _validate_action(self, change: RecordChange) -> str | None:
        s = self.s
        get = lambda name: value(change.after, change.before, name)  # noqa: E731
        kind = str(get("kind") or "")
        known = list(s.catalog.kinds)
        if kind not in known:
            return f"Unknown action kind {kind!r}; choose one of {', '.join(known)}."
        parent_type, parent_id = str(get("parent_type") or ""), str(get("parent_id") or "")
        if not parent_id and get(SUBPANEL_ID_FIELD):  # created from the Documents subpanel
            parent_type, parent_id = s.documents_module, str(get(SUBPANEL_ID_FIELD))
        if not parent_id:
            return "A collegial action needs a parent record (e.g. the document it belongs to)."
        outcome = str(get("outcome") or "")
        old_outcome = "" if change.is_new else str(change.before.get("outcome") or "")
        action = Action(change.record_id or "", kind, str(get("assigned_user_id") or ""), outcome=outcome)
        doc = process = None
        if parent_type == s.documents_module:
            try:
                doc = self.document(parent_id)
            except NotFound:  # other errors propagate: the validation call fails and the fail mode decides
                return f"The parent document {parent_id} does not exist."
            process = self.process_of(doc)
        status = self.status_of(doc) if doc is not None else ""
        if process is not None:
            if change.is_new or "kind" in change.changed:
                verdict = check_add_action(process, status, kind)
                if not verdict:
                    return verdict.reason
        if outcome != old_outcome:
            if outcome and outcome not in s.catalog.kinds[kind].outcomes:
                return (f"{outcome!r} is not an outcome of a {kind} action; choose one of "
                        f"{', '.join(s.catalog.kinds[kind].outcomes)}.")
            ent = self.deputies.entitlement(kind, action.assignee_id, change.user_id, records.today(),
                                            self.directory.name)
            if not ent:
                return ent.reason
            if process is not None:
                verdict = check_act(process, status, action, outcome)
                if not verdict:
                    return verdict.reason
        return None

    # --- after the fact ----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """React to a change of a document or of an action."""
        if event.kind not in (EventKind.CREATED, EventKind.UPDATED):
            return
        if event.module == self.s.documents_module:
            self._on_document(event)
        elif event.module == self.s.actions_module:
            self._on_action(event)

    def _on_document(self, event: Event) -> None:
        s = self.s
        if event.kind is EventKind.UPDATED and s.status_field not in event.changes:
            return
        doc = self.document(event.record_id)
        process = self.process_of(doc)
        if process is None:
            return
        status = self.status_of(doc)
        change = event.changes.get(s.status_field)
        if s.polling_only and change is not None and change.before is not None:
            before = str(change.before or "") or PREPARATION
            after = str(change.after or "") or PREPARATION
            pending = self.state.kv_get(NS, f"revert:{doc.id}")
            if pending and pending.get("from") == before and pending.get("to") == after:
                self.state.kv_delete(NS, f"revert:{doc.id}")  # our own revert coming back
                return
            if status == after:
                actions = records.document_actions(self.crm, s, doc.id, self.directory)
                verdict = check_transition(process, before, after, actions)
                if not verdict:
                    self._revert(event, doc, before, after, verdict.reason)
                    return
        if change is not None and status != (str(change.after or "") or PREPARATION):
            return  # the document moved on since; the later event handles its new status
        if change is not None and event.kind is EventKind.UPDATED and self.decisions is not None:
            before = str(change.before or "") or PREPARATION
            if before != status:  # kept in the core decision log (the document's Decisions subpanel)
                self.decisions.record(s.documents_module, doc.id, key=notice_key(event.key, "status"),
                                      actor_id=event.user_id or "", flow=process.name, transition="status",
                                      from_status=before, to_status=status, at=event.time)
        self._stage_started(event, doc, process, status)

    def _revert(self, event: Event, doc, before: str, after: str, reason: str) -> None:
        s = self.s
        # order matters for a crash: the marker, the Note (idempotent), then the revert itself; a retry
        # finds the status still forbidden and repeats what is missing
        self.state.kv_set(NS, f"revert:{doc.id}", {"from": after, "to": before})
        note = Notice(notice_key(event.key, "revert"), "", "", f"Status change to {after} reverted",
                      f"The change of status from {before} to {after} was reverted: {reason}",
                      s.documents_module, doc.id)
        self._ensure_note(note)
        self.crm.save(s.documents_module, {"id": doc.id, s.status_field: before})
        if self.log:
            self.log.info("document %s: reverted %s -> %s: %s", doc.id, before, after, reason)

    def _ensure_note(self, notice: Notice) -> str:
        skey = f"note:{notice.key}"
        done = self.state.kv_get(NS, skey)
        if done:
            return str(done)
        marker = f"ref: collegial {notice.key}"
        found = next(iter(self.crm.find("Notes", all_of(Cond("parent_id", "eq", notice.parent_id),
                                                          Cond("description", "like", f"%{marker}%")),
                                        ["id"], limit=1)), None)
        note_id = found.id if found is not None else self.crm.save("Notes", {
            "name": notice.subject, "parent_type": notice.parent_module, "parent_id": notice.parent_id,
            "description": f"{notice.body}\n\n{marker}",
        })
        self.state.kv_set(NS, skey, note_id)
        return note_id

    def _stage_started(self, event: Event, doc, process: Process, status: str) -> None:
        stage = process.stage(status)
        if stage is None or not stage.kind:
            return
        for rec in records.action_records(self.crm, self.s, doc.id):
            action = records.to_action(rec, self.directory)
            if action.kind == stage.kind and not process.is_done(action):
                self._tell_assignee(event, doc, status, action, rec.get("due_date"))

    def _tell_assignee(self, event: Event, doc, status: str, action: Action, due: Any) -> None:
        user = self.directory.user(action.assignee_id)
        title = self.doc_title(doc)
        kind = self.s.catalog.kinds[action.kind]
        outcomes = ", ".join(o.replace("_", " ") for o in kind.outcomes)
        body = (f"Hello {user.name},\n\nthe document \"{title}\" is now in {status}. Your {action.kind} "
                f"action is waiting for you (outcomes: {outcomes})"
                + (f"; due {due.isoformat()}" if hasattr(due, "isoformat") else "") + ".\n"
                + (f"\n{self.crm_url}/index.php?module={self.s.documents_module}&action=DetailView"
                   f"&record={doc.id}\n" if self.crm_url else ""))
        subject = f"{kind.label or action.kind}: {title}"
        self._deliver(Notice(notice_key(event.key, action.id, "assignee"), action.assignee_id, user.email,
                             subject, body, self.s.documents_module, doc.id, due or None))
        if not self.s.notify.deputies or not action.assignee_id:
            return
        for a in self.deputies.assignments(action.assignee_id):
            if a.covers(action.kind, event.time.date()):
                deputy = self.directory.user(a.deputy_id)
                until = a.end.isoformat() if a.end else "further notice"
                body = (f"Hello {deputy.name},\n\nyou are {user.name}'s deputy for {action.kind} until "
                        f"{until}. The document \"{title}\" is now in {status}; you may perform the "
                        f"{action.kind} action in their stead.\n")
                self._deliver(Notice(notice_key(event.key, action.id, "deputy", a.deputy_id), a.deputy_id,
                                     deputy.email, f"{subject} (for {user.name})", body,
                                     self.s.documents_module, doc.id, due or None))

    def _deliver(self, notice: Notice) -> None:
        if not notice.user_id:
            return
        self.notifier.deliver(notice, task=self.s.notify.tasks, email=self.s.notify.email)

    def _on_action(self, event: Event) -> None:
        s = self.s
        if event.kind is EventKind.UPDATED and "outcome" not in event.changes:
            return
        try:
            rec = self.crm.get(s.actions_module, event.record_id, records.ACTION_FIELDS)
        except NotFound:  # deleted since: nothing to do
            return
        if event.kind is EventKind.CREATED:
            rec = self._sync_parent(rec)
        process = doc = None
        if rec.get("parent_type") == s.documents_module and rec.get("parent_id"):
            doc = self.document(rec.get("parent_id"))
            process = self.process_of(doc)
        if s.polling_only and self._revert_outcome_if_forbidden(event, rec, doc, process):
            return
        fix: dict[str, Any] = {}
        if process is not None and not rec.get("stage"):
            stage = process.stage_of_kind(str(rec.get("kind") or ""))
            if stage is not None:
                fix["stage"] = stage.status
        outcome = str(rec.get("outcome") or "")
        if "outcome" in event.changes or event.kind is EventKind.CREATED:
            if outcome and not rec.get("acted_at"):
                fix["acted_by_id"] = event.user_id or ""
                fix["acted_at"] = event.time.astimezone(dt.timezone.utc).replace(microsecond=0)
            elif not outcome and (rec.get("acted_at") or rec.get("acted_by_id")):
                fix["acted_by_id"], fix["acted_at"] = "", None
            elif outcome and "outcome" in event.changes and event.changes["outcome"].before not in (None, ""):
                fix["acted_by_id"] = event.user_id or ""  # a changed outcome: the last actor
                fix["acted_at"] = event.time.astimezone(dt.timezone.utc).replace(microsecond=0)
        if fix:
            self.crm.save(s.actions_module, {"id": rec.id, **fix})
        if outcome and doc is not None and self.decisions is not None and (
                "outcome" in event.changes or event.kind is EventKind.CREATED):
            actor, assignee = event.user_id or "", str(rec.get("assigned_user_id") or "")
            self.decisions.record(
                s.documents_module, doc.id, key=notice_key(event.key, "outcome"), actor_id=actor,
                on_behalf_of=assignee if actor and assignee and actor != assignee else "",
                flow=process.name if process else "", transition=str(rec.get("kind") or ""), decision=outcome,
                comment=str(rec.get("comment") or ""), at=event.time)
        if process is None:
            return
        status = self.status_of(doc)
        action = records.to_action(rec, self.directory)
        stage = process.stage(status)
        if stage is None or stage.kind != action.kind:
            return
        if event.kind is EventKind.CREATED and not process.is_done(action):
            self._tell_assignee(event, doc, status, action, rec.get("due_date"))
        if outcome and s.notify.owner_on_stage_complete:
            actions = records.document_actions(self.crm, s, doc.id, self.directory)
            if stage_complete(process, status, actions):
                self._tell_owner(doc, process, status, actions)

    def _revert_outcome_if_forbidden(self, event: Event, rec, doc, process: Process | None) -> bool:
        """Polling only: an outcome set by someone not entitled (or out of stage) is put back, with a Note."""
        change = event.changes.get("outcome")
        if change is None or change.before is None:
            return False
        before, after = str(change.before or ""), str(change.after or "")
        skey = f"revert-outcome:{rec.id}"
        pending = self.state.kv_get(NS, skey)
        if pending and pending.get("from") == before and pending.get("to") == after:
            self.state.kv_delete(NS, skey)  # our own revert coming back
            return True
        if str(rec.get("outcome") or "") != after:
            return False  # changed again since; the later event decides
        kind = str(rec.get("kind") or "")
        assignee = str(rec.get("assigned_user_id") or "")
        ent = self.deputies.entitlement(kind, assignee, event.user_id, event.time.date(), self.directory.name)
        reason = ent.reason
        if ent and process is not None and doc is not None:
            action = records.to_action(rec)
            reason = check_act(process, self.status_of(doc), action, after).reason
        if not reason:
            return False
        self.state.kv_set(NS, skey, {"from": after, "to": before})
        parent_module = str(rec.get("parent_type") or self.s.documents_module)
        parent_id = str(rec.get("parent_id") or rec.id)
        self._ensure_note(Notice(
            notice_key(event.key, "revert-outcome"), "", "", f"{kind} outcome reverted"[:255],
            f"The {kind} outcome {after or '(none)'} set on \"{rec.get('name') or rec.id}\" was reverted to "
            f"{before or '(none)'}: {reason}", parent_module, parent_id))
        self.crm.save(self.s.actions_module, {"id": rec.id, "outcome": before})
        if self.log:
            self.log.info("action %s: reverted outcome %r -> %r: %s", rec.id, before, after, reason)
        return True

    def _sync_parent(self, rec):
        """Keep parent_type/parent_id and the Documents subpanel relationship in step (created either way)."""
        s = self.s
        if s.actions_module != "ca_CollegialActions" or s.documents_module != "Documents":
            return rec  # the subpanel relationship is the shipped package's; renamed modules: parent_id only
        parent_id = str(rec.get("parent_id") or "")
        if not parent_id:
            linked = next(iter(self.crm.related(s.actions_module, rec.id, SUBPANEL_LINK, ["id"])), None)
            if linked is None:
                return rec
            self.crm.save(s.actions_module, {"id": rec.id, "parent_type": s.documents_module,
                                             "parent_id": linked.id})
            return self.crm.get(s.actions_module, rec.id, records.ACTION_FIELDS)
        if rec.get("parent_type") in ("", s.documents_module):
            # relating twice is harmless
            self.crm.relate(s.actions_module, rec.id, SUBPANEL_LINK, [parent_id])
        return rec

    def _tell_owner(self, doc, process: Process, status: str, actions: list[Action]) -> None:
        owner = str(doc.get("assigned_user_id") or "")
        if not owner:
            return
        stage_actions = sorted(f"{a.id}={a.outcome}" for a in actions if a.kind == process.stage(status).kind)
        key = notice_key(doc.id, status, *stage_actions, "stage-complete")
        user = self.directory.user(owner)
        i = process.index(status)
        nxt = process.statuses[i + 1] if i + 1 < len(process.statuses) else ""
        lines = "\n".join(f"- {a.kind} by {a.who()}: {a.outcome.replace('_', ' ')}"
                          for a in actions if a.kind == process.stage(status).kind)
        body = (f"Hello {user.name},\n\nevery {status} action on \"{self.doc_title(doc)}\" is complete:\n"
                f"{lines}\n\nThe document can move on to {nxt}.\n")
        self._deliver(Notice(key, owner, user.email, f"{status} complete: {self.doc_title(doc)}", body,
                             self.s.documents_module, doc.id))


def workflow_for(ctx, settings: Settings | None = None) -> DocumentWorkflow:
    """The workflow over a plugin context's services."""
    settings = settings or ctx.settings or Settings()
    url = ""
    try:
        url = ctx.app.config.settings.suitecrm.url
    except AttributeError:
        pass
    wf = ctx.workflow
    return DocumentWorkflow(settings, ctx.crm, ctx.state, ctx.mailer, ctx.log, url,
                            wf.settings.deputies_module, wf.decisions)
