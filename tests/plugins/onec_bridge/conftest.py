"""Fixtures for onec_bridge: a FakeCRM with the plugin's Payments module (from its schema.yaml) and
Accounts' INN/KPP custom fields, the plugin loaded through the testing kit, statement fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import plugins.onec_bridge.plugin as plugin_module
from suitecrm_ext import FieldInfo
from suitecrm_ext.testing import FakeCRM, build_app, build_config, build_registry

PLUGIN = "onec_bridge"
SCHEMA = Path(plugin_module.__file__).with_name("schema.yaml")
FIXTURES = Path(__file__).parents[2] / "fixtures" / "onec"
OWN_ACCOUNT = "40702810900000012345"


def install_schema(crm: FakeCRM) -> None:
    """Register onec_Payments (fields from schema.yaml), inn_c/kpp_c on Accounts and the relationship."""
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    mod = schema["modules"][0]
    dropdowns = schema["dropdowns"]
    fields = []
    for f in mod["fields"]:
        options = tuple(dropdowns[f["options"]]) if f.get("options") else ()
        fields.append(FieldInfo(f["name"], f["type"], f["label"]["en_us"], options=options,
                                length=f.get("len")))
    crm.add_module(mod["name"], fields, table=mod["table"])
    accounts = list(crm.fields("Accounts").values()) + [
        FieldInfo("inn_c", "varchar", "INN", length=12, source="custom_fields"),
        FieldInfo("kpp_c", "varchar", "KPP", length=9, source="custom_fields"),
    ]
    crm.add_module("Accounts", accounts, table="accounts")
    rel = schema["relationships"][0]
    crm.add_link("Accounts", rel["name"], mod["name"], rel["name"], one_to_many=True,
                 relationship=rel["name"])


@pytest.fixture
def crm() -> FakeCRM:
    """A FakeCRM with the plugin's schema installed."""
    fake = FakeCRM()
    install_schema(fake)
    return fake


def make_ctx(crm: FakeCRM, tmp_path: Path, **settings: Any):
    """The plugin's context over ``crm`` with a SQLite state store in ``tmp_path``."""
    config = build_config(plugins={PLUGIN: settings}, state={"backend": "sqlite",
                                                              "path": str(tmp_path / "state.sqlite3")})
    reg = build_registry({PLUGIN: plugin_module}, config=config)
    app = build_app(reg, config=config, crm=crm)
    return app.for_plugin(PLUGIN)


@pytest.fixture
def ctx_factory(crm: FakeCRM, tmp_path: Path):
    """``ctx_factory(**settings)`` → PluginContext (FakeCRM, SQLite state)."""
    made = []

    def factory(**settings: Any):
        ctx = make_ctx(crm, tmp_path, **settings)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.app.close()


def add_account(crm: FakeCRM, name: str, inn: str, kpp: str = "", user: str = "u-manager") -> str:
    """Create an Account with INN/KPP; returns its id."""
    return crm.save("Accounts", {"name": name, "inn_c": inn, "kpp_c": kpp, "assigned_user_id": user})
