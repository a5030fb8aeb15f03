"""``send_email``: an e-mail from templates, with documents generated from templates attached, kept in
SuiteCRM as an Email of the record.

::

    - name: invoice_mail
      send_email:
        to: "{{ fetch('Contacts', record.billing_contact_id).email1 }}"
        subject: "Счёт №{{ record.number }}"
        body: "Здравствуйте! Счёт во вложении."
        attachments:
          - {template: invoice.docx, filename: "invoice-{{ record.number }}.docx"}
          - {template: invoice.html, filename: "invoice-{{ record.number }}.pdf"}    # HTML → PDF

Never half-done: every document is generated (and checked) before anything is sent; a document that
fails parks the step and no e-mail leaves. With ``archive`` (default: ``plugins.bp_scripts.email.archive``)
the Email record and its attachments (Notes) are in SuiteCRM before SMTP is asked, and marked sent after.
The Message-ID comes from the step's key: a retry after a crash between SMTP's "accepted" and the note of
it sends the same message again (same Message-ID, which mail clients show once) — at least once, never
without its attachments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from suitecrm_ext import CRMError, TransientError
from suitecrm_ext.workflow import RetryLater, Script, ScriptError, ScriptResult, ScriptRun

from ..documents import DocumentError, DocumentMaker
from ..processes import SettingProblem
from .common import render

MIME = {
    "docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "pdf": ("application", "pdf"),
}


class Attachment(BaseModel):
    """A document made from a template in the documents folder."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=255)
    filename: str | None = Field(None, max_length=255)


class Settings(BaseModel):
    """Settings of ``send_email``."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=1000)
    cc: str = Field("", max_length=1000)
    subject: str = Field(min_length=1, max_length=1000)
    body: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(None, max_length=200_000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    archive: bool | None = None


def check(s: Settings, where: dict[str, Any]) -> None:
    """The document templates exist and compile."""
    maker = DocumentMaker(where.get("documents_dir") or "config/documents")
    for i, a in enumerate(s.attachments):
        try:
            maker.check(a.template)
        except DocumentError as exc:
            raise SettingProblem(str(exc), "attachments", i, "template") from None


def _addresses(text: str, what: str) -> list[str]:
    found = [addr for _, addr in getaddresses([text.replace(";", ",")]) if addr]
    bad = [a for a in found if "@" not in a or " " in a]
    if bad:
        raise ScriptError(f"{what}: {bad[0]!r} is not an e-mail address")
    return found


def run(run: ScriptRun, s: Settings) -> ScriptResult:
    """Render, generate, archive, send, mark sent (see the module docstring)."""
    to = _addresses(str(render(run, s.to, "to")), "to")
    cc = _addresses(str(render(run, s.cc, "cc")), "cc") if s.cc else []
    if not to:
        raise ScriptError(f"no address to send to (to: {s.to!r} gives nothing)")
    subject = " ".join(str(render(run, s.subject, "subject")).split())
    body = str(render(run, s.body, "body"))
    html = str(render(run, s.html, "html")) if s.html else None
    docs = _documents(run, s)
    archive = s.archive if s.archive is not None else bool(run.services.get("email_archive", True))
    if run.dry_run:
        names = ", ".join(f"{n} ({len(b)} bytes)" for n, _, b in docs)
        return ScriptResult(
            f"would e-mail {', '.join(to)}: {subject!r}" + (f" with {names}" if names else "")
        )
    mailer = run.services.get("mailer")
    if mailer is None:
        raise ScriptError("no mailer: configure the smtp section")
    domain = run.services.get("message_id_domain") or "suitecrm-ext.local"
    message_id = f"<{hashlib.sha256(run.key.encode()).hexdigest()[:32]}@{domain}>"
    email_id = run.guid("email") if archive else ""
    if archive:
        _archive(run, email_id, subject, body, html, to, cc, docs, message_id, status="draft")
    if not run.memo.get("smtp"):
        msg = EmailMessage()
        sender = run.services.get("mail_from")
        if sender:
            msg["From"] = sender
        msg["To"] = ", ".join(to)
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg["Subject"] = subject
        msg["Message-ID"] = message_id
        msg.set_content(body)
        if html:
            msg.add_alternative(html, subtype="html")
        for name, kind, data in docs:
            maintype, subtype = MIME[kind]
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        try:
            mailer.send_message(msg)
        except Exception as exc:  # noqa: BLE001 - SMTP refused or unreachable: try again later
            raise RetryLater(f"e-mail to {', '.join(to)}: {exc}") from None
        run.memo.set("smtp", dt.datetime.now(dt.timezone.utc).isoformat())
    if archive:
        _mark_sent(run, email_id)
    return ScriptResult(
        f"e-mailed {', '.join(to)}: {subject!r}" + (f" with {len(docs)} document(s)" if docs else ""),
        {"to": to, "message_id": message_id, "email_id": email_id, "attachments": [n for n, _, _ in docs]},
    )


def _documents(run: ScriptRun, s: Settings) -> list[tuple[str, str, bytes]]:
    maker = run.services.get("documents") or DocumentMaker(
        run.services.get("documents_dir") or "config/documents"
    )
    out = []
    for a in s.attachments:
        try:
            kind, data = maker.render(a.template, run.context)
        except DocumentError as exc:
            raise ScriptError(f"document {a.template}: {exc}") from None
        _verify(a.template, kind, data)
        default = Path(a.template).stem + (".docx" if kind == "docx" else ".pdf")
        name = str(render(run, a.filename, "filename")).strip() if a.filename else default
        name = name.replace("/", "_").replace("\\", "_") or default
        out.append((name, kind, data))
    return out


def _verify(template: str, kind: str, data: bytes) -> None:
    """A generated document opens (never attach a broken one)."""
    if kind == "pdf":
        if not data.startswith(b"%PDF-"):
            raise ScriptError(f"document {template}: the PDF renderer gave no PDF")
        return
    try:
        import docx

        docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        raise ScriptError(f"document {template}: the generated DOCX does not open: {exc}") from None


def _archive(
    run: ScriptRun,
    email_id: str,
    subject: str,
    body: str,
    html: str | None,
    to: list[str],
    cc: list[str],
    docs: list[tuple[str, str, bytes]],
    message_id: str,
    *,
    status: str,
) -> None:
    """The Email and its attachments in SuiteCRM, before sending (repeat-safe: ids from the key)."""
    crm = run.crm
    sender = run.services.get("mail_from") or ""
    values = {
        "name": subject[:255],
        "type": "out",
        "status": status,
        "parent_type": run.module,
        "parent_id": run.record_id,
        "description": body,
        "description_html": html or "",
        "from_addr_name": sender,
        "to_addrs_names": ", ".join(to),
        "cc_addrs_names": ", ".join(cc),
        "message_id": message_id[:255],
    }
    try:
        if not run.memo.get("archived"):
            crm.create("Emails", values, id=email_id)
            for i, (name, kind, data) in enumerate(docs):
                note_id = run.guid(f"attachment:{i}")
                crm.create(
                    "Notes",
                    {
                        "name": name,
                        "parent_type": "Emails",
                        "parent_id": email_id,
                        "file_mime_type": "/".join(MIME[kind]),
                    },
                    id=note_id,
                )
                crm.set_attachment(note_id, name, data)
            try:  # the record's History subpanel lists it (modules with an "emails" link)
                crm.relate(run.module, run.record_id, "emails", [email_id])
            except TransientError:
                raise
            except CRMError:
                pass  # no such link: parent_type/parent_id still tie the Email to the record
            run.memo.set("archived", True)
    except TransientError as exc:
        raise RetryLater(f"archiving the e-mail in SuiteCRM: {exc}") from None
    except CRMError as exc:
        raise ScriptError(f"archiving the e-mail in SuiteCRM: {exc}") from None


def _mark_sent(run: ScriptRun, email_id: str) -> None:
    try:
        run.crm.save(
            "Emails",
            {"id": email_id, "status": "sent", "date_sent_received": dt.datetime.now(dt.timezone.utc)},
        )
    except TransientError as exc:
        raise RetryLater(f"marking the archived e-mail sent: {exc}") from None


SCRIPT = Script(
    "send_email",
    run,
    Settings,
    summary="An e-mail from templates with generated DOCX/PDF documents "
    "attached, archived in SuiteCRM as an Email of the record",
    check=check,
)

__all__ = ["SCRIPT", "Settings"]
