"""``send_email`` through a real SMTP server (aiosmtpd): the DOCX and PDF documents made from templates are
attached (opened and read back: python-docx, pypdf), the e-mail is archived in SuiteCRM as an Email of the
record with the documents as its Notes, and nothing is sent twice or without its attachments."""

from __future__ import annotations

import io
import textwrap

import docx
import pypdf
import pytest

from plugins.bp_scripts.runs import RunStore
from plugins.bp_scripts.service import engine_for
from suitecrm_ext import ConfigError

from .kit import Clock, bp_app, evented_crm


def docx_template(path, lines):
    d = docx.Document()
    for line in lines:
        d.add_paragraph(line)
    d.save(path)


PROCESS = """\
processes:
  - name: invoice_mail
    module: AOS_Invoices
    trigger:
      on: [updated]
      when: {field: status, to: Unpaid}
    steps:
      - name: mail
        send_email:
          to: "{{ fetch('Contacts', record.billing_contact_id).email1 }}"
          subject: "Счёт №{{ record.number }}"
          body: >-
            Здравствуйте, {{ fetch('Contacts', record.billing_contact_id).first_name }}! Счёт во вложении.
          attachments:
%s
        retry: {attempts: 3, backoff: 1m}
"""
GOOD = """\
            - {template: invoice.docx, filename: "invoice-{{ record.number }}.docx"}
            - {template: invoice.html, filename: "invoice-{{ record.number }}.pdf"}"""


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    docx_template(folder / "invoice.docx", ["Счёт № {{ record.number }}",
                                            "Сумма: {{ record.total_amount | money }} руб.",
                                            "Покупатель: {{ fetch('Contacts', "
                                            "record.billing_contact_id).last_name }}"])
    (folder / "invoice.html").write_text(textwrap.dedent("""\
        <html><body><h1>Invoice {{ record.number }}</h1>
        <p>Total {{ record.total_amount | money }} for {{ record.name }}</p></body></html>"""),
        encoding="utf-8")
    (folder / "broken.html").write_text("<p>{{ record.name </p>", encoding="utf-8")
    # compiles, but fails on a record whose name is not a date
    (folder / "hole.html").write_text("<p>{{ record.name | date }}</p>", encoding="utf-8")
    return folder


def make(tmp_path, docs, smtp_server, attachments=GOOD):
    clock = Clock()
    crm = evented_crm(clock)
    contact = crm.save("Contacts", {"first_name": "Анна", "last_name": "Клиентова",
                                    "email1": "anna@example.com"})
    invoice = crm.save("AOS_Invoices", {"name": "Заказ <b>1042</b> & Co", "number": 1042, "status": "",
                                        "billing_contact_id": contact, "total_amount": "15400.50"})
    path = tmp_path / "mail.yaml"
    path.write_text(PROCESS % attachments, encoding="utf-8")
    app, _ = bp_app(crm, tmp_path, processes=[str(path)], settings={"documents_dir": str(docs)},
                    smtp=smtp_server.settings(sender="shop@example.com"))
    engine = engine_for(app.for_plugin("bp_scripts"), clock=clock)
    crm.pump(engine)
    return crm, engine, clock, invoice


def test_the_email_carries_the_generated_docx_and_pdf_and_is_archived_on_the_record(
    tmp_path, docs, smtp_server
):
    crm, engine, clock, invoice = make(tmp_path, docs, smtp_server)
    crm.save("AOS_Invoices", {"id": invoice, "status": "Unpaid"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert run.status == "done", run.log_lines()
    [msg] = smtp_server.messages
    assert msg["To"] == "anna@example.com" and msg["From"] == "shop@example.com"
    assert msg["Subject"] == "Счёт №1042"
    assert "Здравствуйте, Анна!" in msg.get_body(("plain",)).get_content()
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert set(files) == {"invoice-1042.docx", "invoice-1042.pdf"}
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(files["invoice-1042.docx"])).paragraphs)
    assert "Счёт № 1042" in text and "Сумма: 15\xa0400,50 руб." in text and "Покупатель: Клиентова" in text
    reader = pypdf.PdfReader(io.BytesIO(files["invoice-1042.pdf"]))
    pdf = "".join(page.extract_text() for page in reader.pages)
    assert "Invoice 1042" in pdf and "15\xa0400,50" in pdf.replace(" ", "\xa0")
    assert "<b>1042</b> & Co" in pdf  # the record's text is text, not markup, in the document

    [email] = [e for e in crm.records("Emails") if e.get("parent_id") == invoice]
    assert email.get("status") == "sent" and email.get("parent_type") == "AOS_Invoices"
    assert email.get("name") == "Счёт №1042" and email.get("message_id") == msg["Message-ID"]
    notes = [n for n in crm.records("Notes") if n.get("parent_id") == email.id]
    assert sorted(n.get("filename") for n in notes) == ["invoice-1042.docx", "invoice-1042.pdf"]
    stored = {n.get("filename"): crm.get_attachment(n.id).content for n in notes}
    assert stored["invoice-1042.docx"] == files["invoice-1042.docx"]


def test_a_step_run_again_after_a_crash_sends_the_same_message_and_archives_once(tmp_path, docs, smtp_server):
    crm, engine, clock, invoice = make(tmp_path, docs, smtp_server)
    crm.save("AOS_Invoices", {"id": invoice, "status": "Unpaid"})
    events = list(crm.queue)
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    # a crash after SMTP took it, before the step was noted done: the step runs again with its key
    store = RunStore(engine.state)
    run.steps[0].status = "running"
    run.status = "running"
    store.save(run, 0)
    for ev in events * 2:
        engine.on_event(ev)
    engine.advance(run.id)
    assert len(smtp_server.messages) == 1  # SMTP's "accepted" was noted: not sent again
    assert len([e for e in crm.records("Emails") if e.get("parent_id") == invoice]) == 1
    assert RunStore(engine.state).get(run.id).status == "done"


def test_smtp_refusing_is_retried_and_nothing_is_sent_without_its_attachments(tmp_path, docs, smtp_server):
    crm, engine, clock, invoice = make(tmp_path, docs, smtp_server)
    smtp_server.refuse = 1
    crm.save("AOS_Invoices", {"id": invoice, "status": "Unpaid"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert run.status == "retry" and "451" in run.current.error
    [email] = [e for e in crm.records("Emails") if e.get("parent_id") == invoice]
    assert email.get("status") == "draft"  # archived before sending, not yet sent
    clock.advance(120)
    engine.tick()
    [msg] = smtp_server.messages
    assert len(list(msg.iter_attachments())) == 2
    assert crm.get("Emails", email.id).get("status") == "sent"
    assert RunStore(engine.state).get(run.id).status == "done"


def test_a_document_that_fails_on_this_record_parks_the_step_and_sends_nothing(tmp_path, docs, smtp_server):
    crm, engine, clock, invoice = make(tmp_path, docs, smtp_server,
                                        attachments=GOOD + "\n            - {template: hole.html}")
    crm.save("AOS_Invoices", {"id": invoice, "status": "Unpaid"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("AOS_Invoices", invoice)
    assert run.status == "parked" and "hole.html" in run.error and "is not a date" in run.error
    assert smtp_server.messages == []
    assert [e for e in crm.records("Emails") if e.get("parent_id") == invoice] == []


@pytest.mark.parametrize("attachment, expected", [
    ("{template: missing.docx}", "no document template 'missing.docx'"),
    ("{template: broken.html}", "broken.html: line 1"),
    ("{template: ../mail.yaml}", "no document template '../mail.yaml'"),
])
def test_config_check_refuses_a_bad_document_template_with_file_and_line(
    tmp_path, docs, smtp_server, attachment, expected
):
    with pytest.raises(ConfigError) as err:
        make(tmp_path, docs, smtp_server, attachments=f"            - {attachment}")
    text = "\n".join(err.value.problems)
    assert "mail.yaml:15" in text and expected in text, text
