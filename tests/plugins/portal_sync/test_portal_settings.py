"""The plugins.portal_sync section: defaults, and every mistake named with its key."""

from __future__ import annotations

import pytest

import plugins.portal_sync.plugin as plugin_module
from plugins.portal_sync.adapter import ORIGIN
from plugins.portal_sync.service import AdapterError, load_adapter
from plugins.portal_sync.settings import Settings
from suitecrm_ext import ConfigError
from suitecrm_ext.testing import build_config, build_registry

PORTAL = {
    "url": "https://portal.example",
    "write_via": "rest",
    "rest": {"username": "admin", "password": "pw"},
}


def load(section):
    cfg = build_config(plugins={"portal_sync": section})
    build_registry({"portal_sync": plugin_module}, config=cfg)
    return cfg.plugin_settings["portal_sync"]


def test_defaults_sync_the_organisation_and_keep_internal_fields_home():
    s = load({"portal": PORTAL})
    assert s.portal.url == "https://portal.example"
    accounts = s.organisation.Accounts
    assert "name" in accounts.fields and "annual_revenue" in accounts.internal_only
    assert not set(accounts.fields) & set(accounts.internal_only)
    assert s.cases.client_statuses == ["Open_New", "Closed_Closed"]
    watched = {(w.origin, w.module) for w in plugin_module.ext_watch(settings=s)}
    assert ("", "Contacts") in watched and (ORIGIN, "Cases") in watched and (ORIGIN, "Notes") in watched
    contacts = next(w for w in plugin_module.ext_watch(settings=s) if w.module == "Contacts" and not w.origin)
    assert s.status_field in contacts.fields


@pytest.mark.parametrize(
    "section,where,why",
    [
        (
            {"portal": {**PORTAL, "write_via": "v8", "v8": {"client_id": "x", "client_secret": "y"}}},
            "plugins.portal_sync.portal",
            "cannot create records under the sidecar's ids",
        ),
        ({"portal": {**PORTAL, "url": "portal.example"}}, "plugins.portal_sync.portal.url", "http"),
        (
            {"organisation": {"Accounts": {"fields": {"name": {}}, "internal_only": ["name"]}}},
            "plugins.portal_sync.organisation.Accounts",
            "listed as internal_only and as synced",
        ),
        (
            {"organisation": {"Accounts": {"fields": {"Name; DROP": {}}}}},
            "plugins.portal_sync.organisation.Accounts.fields",
            "not SuiteCRM field names",
        ),
        (
            {
                "organisation": {
                    "Contacts": {"fields": {"a": {"portal_field": "x"}, "b": {"portal_field": "x"}}}
                }
            },
            "plugins.portal_sync.organisation.Contacts",
            "target of two synced fields",
        ),
        (
            {"organisation": {"Accounts": {"fields": {"name": {"conflict": "newest_wins"}}}}},
            "plugins.portal_sync.organisation.Accounts.fields.name.conflict",
            "portal_wins",
        ),
        ({"poll_schedule": "*/5 * * * *"}, "plugins.portal_sync.poll_schedule", "interval"),
        ({"adapter": "not a class"}, "plugins.portal_sync.adapter", "package.module:ClassName"),
        ({"portla": PORTAL}, "plugins.portal_sync.portla", "unknown key"),
    ],
)
def test_mistakes_are_named_with_their_key(section, where, why):
    with pytest.raises(ConfigError) as err:
        load(section)
    text = str(err.value)
    assert where in text and why in text, text


def test_an_adapter_that_is_not_one_is_refused():
    with pytest.raises(AdapterError, match="cannot load"):
        load_adapter(Settings(adapter="no_such_module:Portal"), None)
    with pytest.raises(AdapterError, match="not a PortalAdapter"):
        load_adapter(Settings(adapter="plugins.portal_sync.settings:Settings"), None)
