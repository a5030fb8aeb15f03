"""What ``config check`` refuses in process files and the plugin's section: each problem with its file,
line and key, and nothing loaded. The shipped process files pass."""

from __future__ import annotations

import pytest

from plugins.bp_scripts.settings import Settings
from suitecrm_ext import ConfigError
from suitecrm_ext.testing import build_config, build_registry

from .kit import PLUGIN, PROCESSES

HEAD = """\
processes:
  - name: p
    module: AOS_Invoices
    trigger:
      on: [updated]
      when: {field: status, to: Paid}
    steps:
"""

SMS = {"providers": {"smsc": {"kind": "smsc", "login": "shop", "password": "pw"}}}


def load(tmp_path, steps: str, **section):
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + steps, encoding="utf-8")
    config = build_config(plugins={"bp_scripts": {"process_files": [str(path)], **section}})
    reg = build_registry({"bp_scripts": PLUGIN, "workflow": "suitecrm_ext.workflow.plugin"}, config)
    return Settings.model_validate(config.raw["plugins"]["bp_scripts"], context={"registry": reg})


A = "      - name: a\n        "  # a step named a; its script follows
CASES = [
    ("unknown script", A + "frobnicate: {x: 1}\n", {}, 9,
     "unknown script 'frobnicate' (scripts: call_webhook,"),
    ("unknown setting", A + "set_fields: {fields: {name: x}, colour: red}\n", {}, 9,
     "colour"),
    ("unknown field", A + "set_fields: {fields: {no_such_c: x}}\n", {}, 9, "no_such_c"),
    ("template syntax", A + "set_fields: {fields: {name: \"{{ record.name \"}}\n", {}, 9,
     "name"),
    ("template names an unknown field",
     A + "set_fields: {fields: {name: \"{{ record.nope_c }}\"}}\n", {}, 9, "nope_c"),
    ("provider not configured",
     A + "send_sms: {to: \"{{ record.name }}\", text: hi, provider: smsru}\n", {"sms": SMS},
     9, "smsru"),
    ("no provider at all", A + "send_sms: {to: \"{{ record.name }}\", text: hi}\n", {}, 9,
     "provider"),
    ("webhook not configured", A + "call_webhook: {webhook: erp}\n", {}, 9, "erp"),
    ("bad condition", A + "wait: {until: {field: status, frob: 1}}\n", {}, 9, "frob"),
    ("bad due", A + "task: {assignee: {role: X}, subject: s, due: soon}\n", {}, 9, "due"),
    ("two steps of one name",
     A + "wait: {until: {field: status, eq: x}}\n" + A + "wait: {until: {field: status, eq: y}}\n", {}, 10,
     "two steps are named 'a'"),
]


@pytest.mark.parametrize("what, steps, section, line, needle", CASES, ids=[c[0] for c in CASES])
def test_a_bad_process_is_refused_with_file_line_and_key(tmp_path, what, steps, section, line, needle):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, steps, **section)
    text = "\n".join(err.value.problems)
    assert f"p.yaml:{line}" in text and needle in text, text


def test_a_missing_process_file_is_named(tmp_path):
    config = build_config(plugins={"bp_scripts": {"process_files": [str(tmp_path / "nope.yaml")]}})
    with pytest.raises(ConfigError) as err:
        build_registry({"bp_scripts": PLUGIN, "workflow": "suitecrm_ext.workflow.plugin"}, config)
    assert "nope.yaml: no such process file" in "\n".join(err.value.problems)


def test_the_shipped_process_files_pass(tmp_path):
    s = Settings.model_validate(
        {"process_files": [str(PROCESSES / "*.yaml")], "sms": SMS}, context={"registry": None}
    )
    names = {p.name for p in s.processes}
    assert "order_delivery" in names and {"comdi_subscription_from_deal", "comdi_renewal"} <= names
