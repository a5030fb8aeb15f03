"""Notices (Tasks + real SMTP mail, idempotent), templates, the decision log and deputies on FakeCRM."""

from __future__ import annotations

import datetime as dt

import pytest

from suitecrm_ext.config import SmtpSettings, StateSettings
from suitecrm_ext.mail import Mailer
from suitecrm_ext.state import open_store
from suitecrm_ext.workflow import (
    AccessModel,
    DecisionLog,
    DeputyBook,
    Notice,
    Notifier,
    TemplateError,
    Templates,
)


@pytest.fixture
def state(tmp_path):
    store = open_store(StateSettings(backend="sqlite", path=str(tmp_path / "state.sqlite3")))
    yield store
    store.close()


TEMPLATES = {
    "review_needed": {
        "subject": {
            "en_us": "Application {{ record.name }} needs review",
            "ru_ru": "Заявка {{ record.name }} ждёт проверки",
        },
        "body": {
            "en_us": "Hello {{ user.name }},\nplease review {{ record.name }}.\n",
            "ru_ru": "Здравствуйте, {{ user.name }}!\nПроверьте заявку {{ record.name }}.\n",
        },
    }
}


def test_tasks_and_mail_per_role_member_once(org, state, smtp_server):
    crm, ids = org
    access = AccessModel(crm)
    tpl = Templates(TEMPLATES)
    n = Notifier(
        crm, state, Mailer(SmtpSettings(host="127.0.0.1", port=smtp_server.port)), marker="ao", state_ns="ao"
    )
    members = access.role_users("Security officer")

    def render(user, part):
        r = tpl.render("review_needed", "ru_ru", user={"name": user.display}, record={"name": "№17"})
        return r.subject if part == "s" else r.body

    for _ in range(2):  # a retry (re-delivered event) makes nothing twice
        out = n.to_users(
            members,
            key="event-1:security",
            subject=lambda u: render(u, "s"),
            body=lambda u: render(u, "b"),
            parent_module="Accounts",
            parent_id=ids["acc"],
        )
    assert set(out) == {"u-sec1", "u-sec2"}
    tasks = crm.records("Tasks")
    assert len(tasks) == 2 and {t.get("assigned_user_id") for t in tasks} == {"u-sec1", "u-sec2"}
    assert tasks[0].get("name") == "Заявка №17 ждёт проверки"
    assert len(smtp_server.messages) == 2
    first = smtp_server.received[0]
    assert first.rcpt_tos[0].endswith("@bank.test") and "Проверьте заявку №17" in first.message.get_content()


def test_task_found_in_suitecrm_after_a_crash_before_the_state_write(org, tmp_path, state):
    crm, ids = org
    n = Notifier(crm, state)
    notice = Notice("k1", "u-mgr", "", "Check", "Body", "Accounts", ids["acc"])
    tid = n.task(notice)
    state.kv_delete("workflow", "task:k1")  # as if the process died before remembering it
    assert n.task(notice) == tid and crm.count("Tasks") == 1


def test_templates_refuse_bad_syntax_and_missing_variables():
    with pytest.raises(TemplateError, match=r"template 'x'.body.en_us line 2: Unexpected end of template"):
        Templates({"x": {"subject": "s", "body": {"en_us": "ok\n{% if a %}"}}})
    with pytest.raises(TemplateError, match="unknown language 'de_de'"):
        Templates({"x": {"subject": {"de_de": "s"}, "body": "b"}})
    with pytest.raises(TemplateError, match="'record' is undefined"):
        Templates(TEMPLATES).render("review_needed", "en_us", user={"name": "A"})
    t = Templates({"x": {"subject": "{{ ''.__class__.__mro__ }}", "body": "b"}})
    with pytest.raises(TemplateError):  # the sandbox refuses attribute games
        t.render("x")
    assert (
        Templates(TEMPLATES)
        .render("review_needed", "en_us", user={"name": "A"}, record={"name": "R"})
        .subject
        == "Application R needs review"
    )


def test_decision_log_is_idempotent_and_ordered(org):
    crm, ids = org
    log = DecisionLog(crm)
    t0 = dt.datetime(2026, 2, 2, 9, tzinfo=dt.timezone.utc)
    a = log.record(
        "Accounts",
        ids["acc"],
        key="e1",
        actor_id="u-sec2",
        on_behalf_of="u-sec1",
        flow="opening",
        transition="approve",
        from_status="Security review",
        to_status="Approved by security",
        decision="approved",
        comment="Documents in order",
        at=t0,
    )
    assert log.record("Accounts", ids["acc"], key="e1", actor_id="u-sec2") == a
    log.record(
        "Accounts",
        ids["acc"],
        key="e0",
        actor_id="u-mgr",
        transition="submit",
        from_status="Draft",
        to_status="Security review",
        at=t0 - dt.timedelta(hours=1),
    )
    hist = log.history("Accounts", ids["acc"])
    assert [h.transition for h in hist] == ["submit", "approve"]
    assert (hist[1].acted_by_id, hist[1].on_behalf_of_id, hist[1].acted_at) == ("u-sec2", "u-sec1", t0)
    assert crm.get("sx_Decisions", a).get("name") == "approved Security review → Approved by security"


def test_deputy_book_over_the_core_module(org):
    crm, _ = org
    book = DeputyBook(crm)
    d = dt.date(2026, 3, 1)
    book.add("u-sec1", "u-sec2", "approval", d, d + dt.timedelta(days=9))
    with pytest.raises(ValueError, match="own deputy"):
        book.add("u-sec1", "u-sec1", "all", d)
    assert book.deputies_of("u-sec1", "approval", d) == ["u-sec2"]
    assert book.deputies_of("u-sec1", "signing", d) == []
    assert book.principals_of("u-sec2", "approval", d + dt.timedelta(days=9)) == ["u-sec1"]
    ent = book.entitlement("approval", "u-sec1", "u-sec2", d)
    assert ent and ent.on_behalf_of == "u-sec1"
    assert not book.entitlement("approval", "u-sec1", "u-sec2", d + dt.timedelta(days=10))
