"""Schema validation: good schemas load, bad ones fail naming plugin, file, line and field."""

from __future__ import annotations

import copy
import importlib
from pathlib import Path

import pytest
import yaml

from suitecrm_ext.packaging.schema import SchemaError, load_schema, load_schema_file
from suitecrm_ext.testing import load_plugin_schema

BASE = {
    "package": {"id": "sxt_t", "name": "t", "version": "1.0.0"},
    "dropdowns": {"t_list": {"a": {"en_us": "A", "ru_ru": "А"}, "b": {"en_us": "B", "ru_ru": "Б"}}},
    "modules": [
        {
            "name": "t_Things",
            "label": {
                "singular": {"en_us": "Thing", "ru_ru": "Вещь"},
                "plural": {"en_us": "Things", "ru_ru": "Вещи"},
            },
            "fields": [
                {"name": "code", "type": "varchar", "len": 20, "label": {"en_us": "Code", "ru_ru": "Код"}},
                {
                    "name": "kind",
                    "type": "enum",
                    "options": "t_list",
                    "label": {"en_us": "Kind", "ru_ru": "Вид"},
                },
            ],
        }
    ],
    "relationships": [
        {"name": "t_things_accounts", "type": "one-to-many", "lhs": "Accounts", "rhs": "t_Things"}
    ],
    "custom_fields": {
        "Accounts": [
            {"name": "t_inn_c", "type": "varchar", "len": 12, "label": {"en_us": "INN", "ru_ru": "ИНН"}}
        ]
    },
}


def problems_of(data: dict) -> list[str]:
    """Validate ``data`` written out as YAML (so lines are known); the problems reported."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with pytest.raises(SchemaError) as exc:
        load_schema(text, "myplugin", source="plugins/myplugin/schema.yaml")
    return exc.value.problems


def mutate(fn) -> dict:
    data = copy.deepcopy(BASE)
    fn(data)
    return data


def test_base_schema_is_valid():
    text = yaml.safe_dump(BASE, allow_unicode=True, sort_keys=False)
    schema = load_schema(text, "myplugin", source="x.yaml")
    assert [m.name for m in schema.modules] == ["t_Things"]
    assert schema.modules[0].table == "t_things"  # default: lower-cased name
    assert schema.relationships[0].join_table == "t_things_accounts_c"
    assert schema.relationships[0].subpanels == ("Accounts",)  # one-to-many: subpanel on the "one" side
    assert schema.custom_fields["Accounts"][0].name == "t_inn_c"


def test_unknown_type_names_plugin_file_line_and_field():
    problems = problems_of(mutate(lambda d: d["modules"][0]["fields"][0].update(type="strng")))
    assert len(problems) == 1
    p = problems[0]
    assert p.startswith("plugin myplugin, plugins/myplugin/schema.yaml:")
    assert "modules[0].fields[0].type (code)" in p
    assert "unknown type 'strng'" in p and "varchar" in p
    # the line is the one holding "type: strng"
    line = int(p.split("schema.yaml:")[1].split(":")[0])
    text = yaml.safe_dump(
        mutate(lambda d: d["modules"][0]["fields"][0].update(type="strng")),
        allow_unicode=True,
        sort_keys=False,
    )
    assert "type: strng" in text.splitlines()[line - 1]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["modules"][0]["fields"].append(dict(d["modules"][0]["fields"][0])),
            "modules[0].fields[2].name (code): duplicate field 'code' (also fields[0])",
        ),
        (
            lambda d: d["modules"][0]["fields"].append(
                {"name": "name", "type": "varchar", "label": {"en_us": "N", "ru_ru": "Н"}}
            ),
            "field 'name' duplicates a field SuiteCRM's basic template already adds",
        ),
        (
            lambda d: d["relationships"][0].update(lhs="Invoicez"),
            "relationships[0].lhs (t_things_accounts): unknown module 'Invoicez'",
        ),
        (
            lambda d: d["modules"][0]["fields"][0].update(name="order"),
            "field name 'order' is a reserved SQL word",
        ),
        (lambda d: d["modules"][0]["fields"][0].update(name="x" * 65), "is 65 characters; the limit is 64"),
        # a trailing newline (a YAML block scalar) is not a name: "$" alone would let it through
        (lambda d: d["modules"][0]["fields"][0].update(name="code\n"), "name 'code\\n' may only contain"),
        (lambda d: d["modules"][0].update(name="t_Things\n"), "module name 't_Things\\n' may only contain"),
        (lambda d: d["package"].update(id="sxt_t\n"), "package id name 'sxt_t\\n' may only contain"),
        (lambda d: d["modules"][0].update(table="t" * 60), "leaves no room for its"),
        (lambda d: d["modules"][0].update(name="t_" + "A" * 24), "is 26 characters; the limit is 25"),
        (
            lambda d: d["relationships"][0].update(name="r" * 55),
            "relationship name too long: it makes the DB name",
        ),
        (
            lambda d: d["modules"][0]["fields"][1].update(options="nope_list"),
            "unknown dropdown list 'nope_list'",
        ),
        (
            lambda d: d["modules"][0]["fields"][1].update(default="z"),
            "default 'z' is not a key of dropdown t_list",
        ),
        (lambda d: d["custom_fields"]["Accounts"][0].update(name="t_inn"), "custom field names end in _c"),
        (
            lambda d: d["custom_fields"].update(t_Things=[]),
            "custom_fields go on stock modules; 't_Things' is not one",
        ),
        (
            lambda d: d["modules"][0]["fields"][0]["label"].pop("ru_ru"),
            "modules[0].fields[0].label.ru_ru (code): is required",
        ),
        (
            lambda d: d["modules"][0]["fields"][0].update(lenght=3),
            "modules[0].fields[0].lenght (code): unknown key",
        ),
        (lambda d: d["modules"][0].update(template="person"), "unknown template 'person'"),
        (lambda d: d["relationships"][0].update(type="one-to-one"), "unknown relationship type 'one-to-one'"),
        (
            lambda d: d["relationships"][0].update(rhs="Accounts"),
            "relationships of a module with itself are not supported",
        ),
        (
            lambda d: d["modules"][0].update(layouts={"list": ["name", "nothere"]}),
            "layout names unknown field 'nothere'",
        ),
        (lambda d: d["package"].pop("version"), "package.version: is required"),
        (lambda d: d["package"].update(version="one"), "must look like 1.2.3"),
        (lambda d: d["modules"][0]["fields"][0].update(required="yes"), "must be true or false"),
        (lambda d: d["modules"].append(copy.deepcopy(d["modules"][0])), "duplicate module name"),
        (lambda d: d.update(scheduler_jobs=[{"name": "x"}]), "declare jobs with the ext_jobs hook"),
        (
            lambda d: d.update(logic_hooks=[{"module": "Nope"}]),
            "logic_hooks[0].module: unknown module 'Nope'",
        ),
        (
            lambda d: d["modules"][0]["fields"].append(
                {
                    "name": "acct_name",
                    "type": "relate",
                    "module": "Acc",
                    "id_field": "acct_id",
                    "label": {"en_us": "A", "ru_ru": "А"},
                }
            ),
            "relate field points to unknown module 'Acc'",
        ),
        # found by fuzzing the split (pkg, 2026-12-02): these crashed (AssertionError, TypeError)
        (lambda d: d.update(package={}), "package.id: is required"),
        (
            lambda d: d["relationships"][0].update(lhs=["Accounts"]),
            "relationships[0].lhs (t_things_accounts): must be a module name (text), not a list",
        ),
        (
            lambda d: d.update(logic_hooks=[{"module": ["Accounts"], "push": True}]),
            "logic_hooks[0].module: must be a module name (text), not a list",
        ),
    ],
)
def test_bad_schema_is_refused_with_the_field_named(change, expected):
    problems = problems_of(mutate(change))
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("plugin myplugin, plugins/myplugin/schema.yaml:") for p in problems), problems


def test_every_problem_is_reported_at_once():
    def two(d):
        d["modules"][0]["fields"][0]["type"] = "strng"
        d["relationships"][0]["rhs"] = "Nowhere"

    problems = problems_of(mutate(two))
    assert len(problems) == 2


def test_yaml_errors_and_duplicate_keys_name_the_line(tmp_path: Path):
    with pytest.raises(SchemaError) as exc:
        load_schema("package:\n  id: x\n  id: y\n  name: n\n  version: 1.0.0\n", "p", source="s.yaml")
    assert exc.value.problems == ["plugin p, s.yaml:3: package.id: duplicate key"]
    with pytest.raises(SchemaError) as exc:
        load_schema("package: [\n", "p", source="s.yaml")
    assert "s.yaml:2: not valid YAML" in exc.value.problems[0]
    with pytest.raises(SchemaError) as exc:
        load_schema_file(tmp_path / "missing.yaml", "p")
    assert "cannot read the schema" in exc.value.problems[0] and "missing.yaml" in exc.value.problems[0]


def test_dict_schemas_are_validated_too():
    with pytest.raises(SchemaError) as exc:
        load_schema({"package": {"id": "x", "name": "n", "version": "1"}, "modulez": []}, "p")
    assert exc.value.problems == [
        "plugin p, <dict>: modulez: unknown key; expected one of package, requires, modules, "
        "relationships, custom_fields, dropdowns, logic_hooks, aow_actions, scheduler_jobs"
    ]


@pytest.mark.parametrize("plugin", ["account_opening", "routing", "portal_sync", "bp_scripts"])
def test_shipped_plugin_schemas_are_valid(plugin):
    schema = load_plugin_schema(plugin)
    assert schema is not None and schema.plugin == plugin
    module = importlib.import_module(f"plugins.{plugin}.plugin")
    assert load_plugin_schema(module) == schema  # by module or by name: the same schema


def test_account_opening_schema_has_what_the_mission_asks():
    schema = load_plugin_schema("account_opening")
    app = schema.module("ao_Applications")
    assert app.template == "security_groups" and app.assignable
    status = app.field("status")
    assert schema.dropdown(status.options).keys == (
        "draft",
        "security_review",
        "returned",
        "rejected",
        "security_approved",
        "opening_review",
        "opened",
    )
    assert {f.name for f in schema.custom_fields["Accounts"]} >= {
        "ao_legal_form_c",
        "ao_full_name_c",
        "ao_short_name_c",
        "ao_inn_c",
        "ao_kpp_c",
        "ao_ogrn_c",
    }
    # licences and FIAS addresses are modules related to the client; decisions go to the core's log
    licence = {f.name for f in schema.module("ao_Licences").fields}
    assert {"number", "issuer", "issued_on", "valid_until"} <= licence
    address = {f.name for f in schema.module("ao_Addresses").fields}
    assert {"region", "city", "street", "house", "flat", "postal_code", "fias_id", "full_address"} <= address
    assert app.field("application_type").options == "ao_application_type_list"
    assert ("ao_Applications", True) in [(h.module, h.validate) for h in schema.logic_hooks]


def test_portal_sync_schema_adds_the_portal_status_the_case_flag_and_push_hooks():
    schema = load_plugin_schema("portal_sync")
    [status] = schema.custom_fields["Contacts"]
    assert status.name == "sxt_portal_status_c" and status.type == "enum"
    assert [f.name for f in schema.custom_fields["Cases"]] == ["sxt_portal_case_c"]
    assert {h.module for h in schema.logic_hooks if h.push} == {"Accounts", "Contacts", "Cases",
                                                               "AOP_Case_Updates", "Notes"}


def test_bp_scripts_schema_has_the_runs_module_its_subpanels_and_the_processes_fields():
    schema = load_plugin_schema("bp_scripts")
    assert {m.name for m in schema.modules} == {"bp_Runs", "bp_Subscriptions"}
    runs = next(m for m in schema.modules if m.name == "bp_Runs")
    assert {"process", "status", "current_step", "steps_log", "parent_type", "parent_id"} <= {
        f.name for f in runs.fields}
    assert {r.name for r in schema.relationships if r.rhs == "bp_Runs"} >= {"bp_runs_aos_invoices",
                                                                          "bp_runs_opportunities"}
    assert [f.name for f in schema.custom_fields["AOS_Invoices"]] == ["bp_assembled_c", "bp_delivery_date_c"]
