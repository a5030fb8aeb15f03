"""Fixtures for onec_bridge: a FakeCRM with the plugin's Payments module (from its schema.yaml) and
Accounts' INN/KPP custom fields, the plugin loaded through the testing kit, statement fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import plugins.onec_bridge.plugin as plugin_module
from suitecrm_ext import FieldInfo
from suitecrm_ext.testing import (
    FakeCRM,
    build_app,
    build_config,
    build_registry,
    load_plugin_schema,
    register_schema,
)

PLUGIN = "onec_bridge"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "onec"
OWN_ACCOUNT = "40702810900000012345"


def install_schema(crm: FakeCRM) -> None:
    """The plugin's schema (onec_Payments, its link to Accounts) and account_opening's INN/KPP fields."""
    accounts = list(crm.fields("Accounts").values()) + [
        FieldInfo("ao_inn_c", "varchar", "INN", length=12, source="custom_fields"),
        FieldInfo("ao_kpp_c", "varchar", "KPP", length=9, source="custom_fields"),
    ]
    crm.add_module("Accounts", accounts, table="accounts")
    register_schema(crm, load_plugin_schema(plugin_module))


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
    return crm.save("Accounts", {"name": name, "ao_inn_c": inn, "ao_kpp_c": kpp, "assigned_user_id": user})


SAMPLES_DIR = Path(__file__).parents[3] / "examples" / "1c"
#: the shipped sample statement in each encoding (examples/1c/)
SAMPLES = {"cp1251": SAMPLES_DIR / "statement-windows-1251.txt", "utf-8": SAMPLES_DIR / "statement-utf-8.txt"}
#: the sample's organisation and its two own accounts
ORG_INN = "7736207543"
SAMPLE_ACCOUNTS = ["40702810938000012345", "40702810300000054321"]


def sample_text(codec: str = "utf-8") -> str:
    """The sample statement as text (its CRLF line ends kept)."""
    return SAMPLES[codec].read_bytes().decode(codec)


def write_statement(path: Path, text: str, codec: str) -> Path:
    """``text`` as a statement file in ``codec``, its Кодировка= line saying so the 1C way."""
    declared = {"cp1251": "Windows", "utf-8": "UTF-8", "cp866": "DOS"}[codec]
    for old in ("Кодировка=Windows", "Кодировка=UTF-8", "Кодировка=DOS"):
        text = text.replace(old, f"Кодировка={declared}")
    path.write_bytes(text.encode(codec))
    return path
