"""``send_sms`` through both shipped adapters against local HTTP servers speaking SMS.ru's and SMSC's
published formats: sent once with the delivery status kept, a provider that is down retried, a refused
number parked, an answer lost after the provider took the message (timeout, dropped connection, the
sidecar killed mid-request) never sent twice."""

from __future__ import annotations

import pytest

from plugins.bp_scripts.engine import Engine
from plugins.bp_scripts.runs import RunStore
from plugins.bp_scripts.service import engine_for, providers_for
from plugins.bp_scripts.tracking import poll_statuses

from .kit import Clock, bp_app, evented_crm
from .sms_servers import FakeSmsc, FakeSmsRu

PROCESS = """\
processes:
  - name: notify
    module: Contacts
    trigger:
      on: [updated]
      when: {field: lead_source, to: Web Site}
    steps:
      - name: sms
        send_sms:
          to: "{{ record.phone_mobile }}"
          text: "Здравствуйте, {{ record.first_name }}! Ваш заказ принят."
        retry: {attempts: 3, backoff: 1m}
"""


def provider_section(server):
    if isinstance(server, FakeSmsRu):
        return {"kind": "smsru", "api_id": FakeSmsRu.API_ID, "url": server.url, "sender": "Shop",
                "timeout": 1}
    return {"kind": "smsc", "login": FakeSmsc.LOGIN, "password": FakeSmsc.PASSWORD, "url": server.url,
            "sender": "Shop", "timeout": 1}


@pytest.fixture(params=["smsru", "smsc"])
def provider(request):
    cls = FakeSmsRu if request.param == "smsru" else FakeSmsc
    with cls() as server:
        yield server


def make(tmp_path, server, phone="+7 (916) 123-45-67"):
    clock = Clock()
    crm = evented_crm(clock)
    contact = crm.save("Contacts", {"first_name": "Анна", "last_name": "Клиентова", "phone_mobile": phone})
    path = tmp_path / "sms.yaml"
    path.write_text(PROCESS, encoding="utf-8")
    app, _ = bp_app(crm, tmp_path, processes=[str(path)],
                    settings={"sms": {"providers": {"p": provider_section(server)}}})
    ctx = app.for_plugin("bp_scripts")
    engine = engine_for(ctx, clock=clock)
    crm.pump(engine)
    return crm, ctx, engine, clock, contact


def trigger(crm, engine, contact):
    crm.save("Contacts", {"id": contact, "lead_source": "Web Site"})
    crm.pump(engine)
    [run] = RunStore(engine.state).of_record("Contacts", contact)
    return run


def note_names(crm, contact):
    return [n.get("name") for n in crm.records("Notes") if n.get("parent_id") == contact]


def test_sent_once_in_the_providers_format_and_its_delivery_status_kept(tmp_path, provider):
    crm, ctx, engine, clock, contact = make(tmp_path, provider)
    run = trigger(crm, engine, contact)
    assert run.status == "done", run.log_lines()
    [sms] = provider.messages
    assert sms["phone"] == "79161234567" and sms["sender"] == "Shop"
    assert sms["text"] == "Здравствуйте, Анна! Ваш заказ принят."
    assert note_names(crm, contact) == ["SMS to +79161234567: queued"]
    counts = poll_statuses(crm, ctx.state, providers_for(ctx.settings), every=0)
    assert counts == {"checked": 1, "changed": 1, "final": 1}
    assert note_names(crm, contact) == ["SMS to +79161234567: delivered"]
    assert poll_statuses(crm, ctx.state, providers_for(ctx.settings), every=0)["checked"] == 0  # final
    engine.tick()
    assert len(provider.messages) == 1


def test_a_provider_that_is_down_is_retried_with_backoff(tmp_path, provider):
    crm, ctx, engine, clock, contact = make(tmp_path, provider)
    provider.behaviour.unavailable = 1
    run = trigger(crm, engine, contact)
    assert run.status == "retry" and provider.messages == []
    engine.tick()  # not yet: the backoff is a minute
    assert provider.messages == []
    clock.advance(61)
    engine.tick()
    assert RunStore(engine.state).get(run.id).status == "done"
    assert len(provider.messages) == 1


def test_a_refused_number_parks_the_step_with_the_providers_reason(tmp_path, provider):
    crm, ctx, engine, clock, contact = make(tmp_path, provider, phone="7 000 000 00 00")
    run = trigger(crm, engine, contact)
    assert run.status == "parked" and "SMS to +70000000000 refused" in run.error
    assert provider.messages == [] and note_names(crm, contact) == []


def test_a_phone_that_is_no_number_parks_before_anything_is_sent(tmp_path, provider):
    crm, ctx, engine, clock, contact = make(tmp_path, provider, phone="n/a")
    run = trigger(crm, engine, contact)
    assert run.status == "parked" and "no phone number to send to" in run.error
    assert provider.requests == []


def test_an_answer_lost_after_the_provider_took_it_never_sends_twice(tmp_path, provider):
    crm, ctx, engine, clock, contact = make(tmp_path, provider)
    provider.behaviour.drop_after_accept = 1
    run = trigger(crm, engine, contact)
    for _ in range(3):
        clock.advance(3600)
        engine.tick()
    run = RunStore(engine.state).get(run.id)
    assert len(provider.messages) == 1
    if isinstance(provider, FakeSmsc):  # asked by our message id: it has it, so the step is done
        assert run.status == "done", run.log_lines()
        [note] = note_names(crm, contact)  # one Note, with the status SMSC reports for it
        assert note.startswith("SMS to +79161234567: ")
    else:  # SMS.ru cannot be asked by our id: an admin decides
        assert run.status == "parked" and "may have been sent" in run.error
        engine.replay(run.id, skip=True)
        assert RunStore(engine.state).get(run.id).status == "done"
        assert len(provider.messages) == 1


def test_a_sidecar_killed_mid_request_sends_nothing_twice_when_started_again(tmp_path, provider, monkeypatch):
    crm, ctx, engine, clock, contact = make(tmp_path, provider)
    adapter = type(providers_for(ctx.settings)["p"])
    real_send = adapter.send

    class Killed(BaseException):
        """kill -9 right after the request went out: nothing after it runs."""

    def send_then_die(self, phone, text, *, client_id):
        real_send(self, phone, text, client_id=client_id)
        raise Killed()

    monkeypatch.setattr(adapter, "send", send_then_die)
    with pytest.raises(Killed):
        trigger(crm, engine, contact)
    monkeypatch.undo()
    assert len(provider.messages) == 1
    [run] = RunStore(engine.state).of_record("Contacts", contact)
    assert run.status == "running" and run.current.status == "running"
    # a new process: a new engine over the same state store (in-process the dead one's lease was released
    # by its finally; a real kill -9 holds it lock_seconds)
    clock.advance(10)
    again = Engine(engine.crm, engine.state, engine.settings, services=engine.services, clock=clock,
                   templates=engine.templates)
    again.tick()
    run = RunStore(again.state).get(run.id)
    assert len(provider.messages) == 1
    if isinstance(provider, FakeSmsc):
        assert run.status == "done"
    else:
        assert run.status == "parked" and "may have been sent" in run.error
