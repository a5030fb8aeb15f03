"""``doctor``'s bp_scripts checks: the package's runs module, the fields each process reads, and each SMS
provider's credentials asked of the provider (its balance call)."""

from __future__ import annotations

import pytest

from plugins.bp_scripts.checks import doctor_checks
from suitecrm_ext.testing import FakeCRM, install_workflow

from .kit import PROCESSES, bp_app, bp_crm
from .sms_servers import FakeSmsc, FakeSmsRu


@pytest.fixture
def servers():
    with FakeSmsRu() as ru, FakeSmsc() as c:
        yield ru, c


def checks(crm, tmp_path, ru, c, *, password=FakeSmsc.PASSWORD):
    sms = {"default": "c", "providers": {
        "ru": {"kind": "smsru", "api_id": FakeSmsRu.API_ID, "url": ru.url},
        "c": {"kind": "smsc", "login": FakeSmsc.LOGIN, "password": password, "url": c.url},
    }}
    app, _ = bp_app(crm, tmp_path, processes=[str(PROCESSES / "order_delivery.yaml")], settings={"sms": sms})
    return {ch.name: ch for ch in doctor_checks(app.for_plugin("bp_scripts"))}


def test_all_good_with_the_package_and_working_providers(tmp_path, servers):
    got = checks(bp_crm(), tmp_path, *servers)
    assert all(ch.ok for ch in got.values()), got
    assert set(got) == {"bp_scripts module bp_Runs", "bp process order_delivery", "bp SMS provider ru",
                        "bp SMS provider c"}


def test_no_package_and_a_wrong_password_are_failed_checks_with_a_hint(tmp_path, servers):
    crm = FakeCRM()
    install_workflow(crm)  # SuiteCRM without the bp_scripts package
    got = checks(crm, tmp_path, *servers, password="wrong")
    assert not got["bp_scripts module bp_Runs"].ok
    assert "package install bp_scripts" in got["bp_scripts module bp_Runs"].hint
    process = got["bp process order_delivery"]
    assert not process.ok and "bp_assembled_c" in process.detail
    assert got["bp SMS provider ru"].ok
    assert not got["bp SMS provider c"].ok and "wrong" not in got["bp SMS provider c"].detail
