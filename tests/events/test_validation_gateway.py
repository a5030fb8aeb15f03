"""/validate's plugins read SuiteCRM through a gateway of their own: a REST v4_1 session is a PHP
session serving one request at a time, so on the shared one a validation waited behind the
dispatcher's calls (and behind the very save it was asked about, when the sidecar made it)."""

from __future__ import annotations

from suitecrm_ext import WatchSpec, hookimpl
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.events.model import RecordChange
from suitecrm_ext.events.validation import Validator
from suitecrm_ext.testing import build_app, build_registry


class Reader:
    def __init__(self):
        self.crms = []

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts")]

    @hookimpl
    def ext_validate_record_change(self, change, ctx):
        self.crms.append(ctx.crm)
        return None if ctx.crm.find("Accounts") is not None else "no"


class ClosingFake(FakeCRM):
    closed = 0

    def close(self):
        self.closed += 1


def change() -> RecordChange:
    return RecordChange(module="Accounts", record_id="a1", before={"name": "A"}, after={"name": "B"})


def test_validators_get_a_gateway_of_their_own_and_it_is_closed_with_the_validator():
    reader = Reader()
    registry = build_registry({"reader": reader})
    shared, own = ClosingFake(), ClosingFake()
    app = build_app(registry, crm=shared)
    made = []
    app.new_crm = lambda: made.append(own) or own
    validator = Validator(app, registry, budget_ms=2000, fail_modes={})
    assert validator.validate(change()).allow
    assert validator.validate(change()).allow
    assert reader.crms == [own, own] and len(made) == 1  # opened once, not the dispatcher's
    validator.close()
    assert (own.closed, shared.closed) == (1, 0)


def test_an_app_handing_out_its_own_crm_keeps_it_open():
    reader = Reader()
    registry = build_registry({"reader": reader})
    shared = ClosingFake()
    app = build_app(registry, crm=shared)  # new_crm() answers the given CRM, as in tests and embeddings
    validator = Validator(app, registry, budget_ms=2000, fail_modes={})
    assert validator.validate(change()).allow and reader.crms == [shared]
    validator.close()
    assert shared.closed == 0


def test_a_gateway_that_cannot_be_opened_falls_back_to_the_shared_one(caplog):
    reader = Reader()
    registry = build_registry({"reader": reader})
    shared = ClosingFake()
    app = build_app(registry, crm=shared)

    def broken():
        raise OSError("no route to SuiteCRM")

    app.new_crm = broken
    validator = Validator(app, registry, budget_ms=2000, fail_modes={})
    assert validator.validate(change()).allow and reader.crms == [shared]
    assert "validation uses the shared CRM gateway" in caplog.text
    validator.close()
