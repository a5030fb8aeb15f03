"""The plugins.account_opening section: defaults, and bad values refused with their key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plugins.account_opening.settings import Settings
from suitecrm_ext.config import ConfigError, load_config_text


def test_defaults_give_both_types_the_shipped_flow():
    s = Settings()
    assert set(s.machines) == {"account_opening", "card_issue"}
    assert s.machines["card_issue"].label_of("opened") == "Account opened"
    assert s.bank.bik is None and s.bank.branch == "0001"
    assert s.balance_accounts["settlement"] == {
        "commercial": "40702",
        "non_profit": "40703",
        "sole_proprietor": "40802",
    }


@pytest.mark.parametrize(
    "data,needle",
    [
        ({"bank": {"bik": "14452522"}}, "BIK"),
        ({"bank": {"bik": "044525225", "branch": "1"}}, "branch '1': 4 digits"),
        ({"balance_accounts": {"deposit": {"commercial": "4210"}}}, "is not a 5-digit balance account"),
        ({"balance_accounts": {"deposit": {"banks": "42101"}}}, "unknown client category"),
        ({"currencies": ["RUB"]}, "is not a 3-digit currency code"),
        (
            {
                "roles": {"security": "SB"},
                "flows": {
                    "card_issue": {
                        "statuses": ["a", "b"],
                        "initial": "a",
                        "transitions": [
                            {"name": "go", "from": "a", "to": "b", "roles": ["Security officer"]}
                        ],
                    }
                },
            },
            "role 'Security officer' is not one of roles",
        ),
        ({"flows": {"loan": {"statuses": ["a"], "initial": "a"}}}, "unknown application type(s) loan"),
        ({"editable_statuses": ["draft", "archived"]}, "'archived' is not a status"),
        ({"templates": "/nonexistent/templates.yaml"}, "cannot read templates"),
        ({"polling_only": "sometimes"}, "polling_only"),
    ],
)
def test_bad_settings_are_refused(data, needle):
    with pytest.raises(ValidationError) as err:
        Settings.model_validate(data)
    assert needle in str(err.value)


def test_renamed_roles_carry_into_the_shipped_flow():
    s = Settings(roles={"security": "Служба безопасности"})
    machine = s.machines["account_opening"]
    approve = next(t for t in machine.transitions if t.name == "security_approve")
    assert approve.roles == ("Служба безопасности",)
    [notify] = machine.on_enter("security_review")
    assert notify.args["to"]["role"] == "Служба безопасности"
    assert next(t for t in machine.transitions if t.name == "submit").roles == ("Personal manager",)


def test_a_bad_flow_in_the_config_names_the_file_line(tmp_path):
    from plugins.account_opening.plugin import ext_settings_schema

    cfg = load_config_text("""
suitecrm: {url: "http://crm.test"}
plugins:
  account_opening:
    flows:
      card_issue:
        statuses: [draft, done]
        initial: draft
        transitions:
          - {name: finish, from: draft, to: done, check: [rm_rf]}
""")
    with pytest.raises(ConfigError) as err:
        cfg.validate_plugin_sections({"account_opening": ext_settings_schema()})
    assert ":10:" in str(err.value) and "unknown check 'rm_rf'" in str(err.value)


def test_a_template_missing_for_a_notify_is_refused(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("security_review: {subject: s, body: b}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no template 'opening_review'"):
        Settings.model_validate({"templates": str(path)})
