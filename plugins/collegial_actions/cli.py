"""``suitecrm-ext collegial ...``: a document's process state, and the deputies in force."""

from __future__ import annotations

import datetime as dt

import click

from plugins.collegial_actions import records
from plugins.collegial_actions.rules import allowed_targets, next_step
from plugins.collegial_actions.workflow import DocumentWorkflow, workflow_for
from suitecrm_ext import NotFound
from suitecrm_ext.cli import plugin_context

PLUGIN = "collegial_actions"


def status_report(wf: DocumentWorkflow, doc_id: str) -> str:
    """The text of ``collegial status``: process, status, actions, what blocks the next step."""
    try:
        doc = wf.document(doc_id)
    except NotFound:
        raise click.ClickException(f"no {wf.s.documents_module} record with id {doc_id!r}") from None
    process = wf.process_of(doc)
    status = wf.status_of(doc)
    doc_type = doc.get(wf.s.type_field) or "(none)"
    lines = [f"Document: {wf.doc_title(doc)} ({doc.id})"]
    if process is None:
        lines.append(f"Type: {doc_type} - not governed by a process "
                     f"(document_types: {', '.join(wf.s.document_types) or 'none'})")
        return "\n".join(lines)
    lines.append(f"Process: {process.label} (type {doc_type})")
    lines.append(f"Status: {status}")
    recs = records.action_records(wf.crm, wf.s, doc.id)
    actions = [records.to_action(r, wf.directory) for r in recs]
    lines.append(f"Actions ({len(actions)}):")
    if not recs:
        lines.append("  (none)")
    for rec, a in zip(recs, actions, strict=True):
        notes = []
        if a.acted_by_id:
            deputy = " (deputy)" if a.acted_by_id != a.assignee_id else ""
            notes.append(f"acted by {wf.directory.name(a.acted_by_id)}{deputy}")
        due = rec.get("due_date")
        if hasattr(due, "isoformat"):
            notes.append(f"due {due.isoformat()}")
        outcome = (a.outcome or "pending").replace("_", " ")
        lines.append(f"  {a.kind:<16} {a.who():<24} {outcome:<13} {'; '.join(notes)}".rstrip())
    target, verdict = next_step(process, status, actions)
    if target is None:
        lines.append(f"Next step: none ({status} is final)" if status == "Archived"
                     else f"Next step: none; {verdict.reason}")
    elif verdict:
        lines.append(f"Next step: {target} - allowed now")
    else:
        lines.append(f"Next step: {target} - blocked. {verdict.reason}")
    lines.append("Allowed now: " + (", ".join(allowed_targets(process, status, actions)) or "nothing"))
    return "\n".join(lines)


def deputies_report(wf: DocumentWorkflow, on: dt.date) -> str:
    """The text of ``collegial deputies``: assignments in force on ``on``."""
    rows = wf.deputies.in_force(on)
    if not rows:
        return f"No deputies in force on {on.isoformat()}."
    lines = [f"Deputies in force on {on.isoformat()}:"]
    for a in rows:
        until = a.end.isoformat() if a.end else "open-ended"
        lines.append(f"  {wf.directory.name(a.principal_id):<24} -> {wf.directory.name(a.deputy_id):<24} "
                     f"{a.kind:<16} {a.start.isoformat()} .. {until}")
    return "\n".join(lines)


@click.group("collegial")
def collegial() -> None:
    """Collegial actions on documents (voting, approval, signing, acknowledgement)."""


@collegial.command("status")
@click.argument("document_id")
def status_cmd(document_id: str) -> None:
    """Show a document's process, status, actions and what blocks the next step."""
    click.echo(status_report(workflow_for(plugin_context(PLUGIN)), document_id))


@collegial.command("deputies")
@click.option("--on", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date to look at (YYYY-MM-DD; default today, UTC).")
def deputies_cmd(on: dt.datetime | None) -> None:
    """List the deputy assignments in force (today, or on --on DATE)."""
    day = on.date() if on else records.today()
    click.echo(deputies_report(workflow_for(plugin_context(PLUGIN)), day))
