"""What each transport declares in ``capabilities``, and what the gateway makes of a writer + reader pair.

The contract suite trusts these declarations (a missing capability means "expect a clean refusal or the
documented limited value"), so a misspelt or mis-combined name would quietly weaken it.
"""

from __future__ import annotations

import pytest

from suitecrm_ext.crm.base import CRM
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.gateway import Gateway
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.crm.soap import SoapCRM
from suitecrm_ext.crm.v8 import V8CRM

METHODS = {"get", "find", "count", "save", "save_many", "delete", "relate", "unrelate", "related", "fields",
           "modules"}
#: optional operations (methods a transport may lack; the base raises Unsupported)
OPTIONAL = {"create_with_id", "attachments"}
FEATURES = {"include_deleted", "filter_in", "filter_null", "filter_nested", "order_multi", "datetime_seconds",
            "batch_save", "server_version", "nul_values"}
TRANSPORTS = [FakeCRM, RestV4CRM, SoapCRM, V8CRM, MySQLCRM]


@pytest.mark.parametrize("cls", TRANSPORTS, ids=lambda c: c.__name__)
def test_every_declared_capability_is_a_documented_name(cls):
    unknown = set(cls.capabilities) - METHODS - FEATURES - OPTIONAL
    assert not unknown, f"{cls.__name__} declares undocumented capabilities {sorted(unknown)}"
    for name in FEATURES | OPTIONAL:  # the CRM docstring is where plugin authors look them up
        assert name in CRM.__doc__


def test_what_each_api_cannot_do():
    # no API writes NUL: the real SuiteCRM drops it on save, so every writer refuses it
    assert FEATURES - FakeCRM.capabilities == {"nul_values"}
    assert FEATURES - RestV4CRM.capabilities == {"nul_values"}
    assert FEATURES - SoapCRM.capabilities == {"nul_values", "server_version"}
    assert FEATURES - V8CRM.capabilities == {"include_deleted", "filter_in", "filter_null", "filter_nested",
                                             "order_multi", "datetime_seconds", "batch_save",
                                             "server_version", "nul_values"}
    assert "nul_values" in MySQLCRM.capabilities  # it reads what the database holds
    assert METHODS <= V8CRM.capabilities and METHODS <= SoapCRM.capabilities
    assert not {"save", "save_many", "delete", "relate", "unrelate", "batch_save"} & MySQLCRM.capabilities
    assert OPTIONAL <= FakeCRM.capabilities and OPTIONAL <= RestV4CRM.capabilities
    assert OPTIONAL - SoapCRM.capabilities == {"attachments"}
    assert not OPTIONAL & (V8CRM.capabilities | MySQLCRM.capabilities)


def _declaring(capabilities) -> FakeCRM:
    crm = FakeCRM(modules=["Accounts"])
    crm.capabilities = frozenset(capabilities)
    return crm


def test_gateway_reads_gain_the_readers_capabilities():
    gw = Gateway(_declaring(V8CRM.capabilities), _declaring(MySQLCRM.capabilities))
    # reads go to MySQL, which can list deleted rows, filter freely and keeps seconds
    for name in ("include_deleted", "filter_in", "filter_null", "filter_nested", "order_multi",
                 "datetime_seconds"):
        assert name in gw.capabilities
    assert METHODS <= gw.capabilities  # writes from V8


def test_gateway_write_side_capabilities_are_the_writers_alone():
    gw = Gateway(_declaring(SoapCRM.capabilities), _declaring(MySQLCRM.capabilities))
    assert "nul_values" not in gw.capabilities  # MySQL reads NUL, but no API can write it
    assert "server_version" not in gw.capabilities  # server_info() asks the writer
    assert "batch_save" in gw.capabilities  # SOAP's set_entries
    assert "batch_save" not in Gateway(_declaring(V8CRM.capabilities)).capabilities
    assert Gateway(_declaring(RestV4CRM.capabilities)).capabilities == RestV4CRM.capabilities
