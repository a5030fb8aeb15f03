"""The PHP of a new module's data layer, as Module Builder writes it: the bean class, ``vardefs.php``
(each field's vardef; relate id columns, the currency id) and the ``custom_fields`` installdefs of the
fields a package adds to stock modules."""

from __future__ import annotations

from typing import Any

from suitecrm_ext.packaging.model import Field, Module, Schema
from suitecrm_ext.packaging.php import ENTRY_GUARD, PHP_HEADER, php_assign, php_string
from suitecrm_ext.packaging.stock import STOCK_MODULES
from suitecrm_ext.packaging.vocabulary import TEMPLATE_FIELDS

__all__ = ["bean_class", "custom_field_def", "field_vardef", "module_vardefs"]


def bean_class(m: Module) -> str:
    """``modules/<Module>/<Module>.php``: the bean class (extends Basic, ACL-aware)."""
    props = "".join(f"    public ${name};\n" for name in bean_properties(m))
    return (
        PHP_HEADER + ENTRY_GUARD + "\n"
        f"class {m.name} extends Basic\n{{\n"
        "    public $new_schema = true;\n"
        f"    public $module_dir = {php_string(m.name)};\n"
        f"    public $object_name = {php_string(m.object_name)};\n"
        f"    public $table_name = {php_string(m.table)};\n"
        f"    public $importable = {'true' if m.importable else 'false'};\n"
        "\n"
        f"{props}\n"
        "    public function bean_implements($interface)\n    {\n"
        "        switch ($interface) {\n"
        "            case 'ACL':\n                return true;\n        }\n\n"
        "        return false;\n    }\n}\n"
    )


def module_vardefs(m: Module, schema: Schema) -> str:
    """``modules/<Module>/vardefs.php``: ``$dictionary[<object>]`` and the templates' ``createVardef``."""
    fields: dict[str, Any] = {}
    for f in m.fields:
        fields[f.name] = field_vardef(f, schema)
        if f.type == "relate":
            fields[f.id_field] = {
                "name": f.id_field,
                "vname": id_label_key(f),
                "type": "id",
                "reportable": False,
                "required": False,
                "audited": f.audited,
                "importable": "true",
            }
    if any(f.type == "currency" for f in m.fields):
        fields["currency_id"] = {
            "name": "currency_id",
            "vname": "LBL_CURRENCY",
            "type": "currency_id",
            "dbType": "id",
            "function": "getCurrencyDropDown",
            "reportable": False,
            "required": False,
            "studio": "visible",
        }
    templates = ", ".join(php_string(t) for t in m.templates)
    return (
        PHP_HEADER
        + "\n"
        + php_assign(
            f"$dictionary[{php_string(m.object_name)}]",
            {
                "table": m.table,
                "audited": m.audited,
                "inline_edit": True,
                "duplicate_merge": True,
                "fields": fields,
                "relationships": {},
                "optimistic_locking": True,
                "unified_search": m.unified_search,
            },
        )
        + "if (!class_exists('VardefManager')) {\n"
        "    require_once 'include/SugarObjects/VardefManager.php';\n}\n"
        f"VardefManager::createVardef({php_string(m.name)}, {php_string(m.object_name)}, "
        f"array({templates}));\n"
    )


def custom_field_def(module: str, f: Field) -> dict[str, Any]:
    """The ``$installdefs['custom_fields']`` entry of a field a package adds to the stock ``module``."""
    ext1 = f.options or (str(f.precision) if f.type == "decimal" and f.precision is not None else "")
    return {
        "id": f"{module}{f.name}",
        "name": f.name,
        "label": f.label_key,
        "comments": "",
        "help": f.help,
        "module": module,
        "type": f.type,
        "max_size": field_length(f),
        "require_option": 1 if f.required else 0,
        "default_value": f.default or "",
        "audited": 1 if f.audited else 0,
        "mass_update": 0,
        "duplicate_merge": 0,
        "reportable": 1,
        "importable": "true",
        "ext1": ext1,
        "ext2": "",
        "ext3": "",
        "ext4": "",
    }


def field_vardef(f: Field, schema: Schema) -> dict[str, Any]:
    """The vardef of a new module's field, as Module Builder writes it."""
    d: dict[str, Any] = {
        "name": f.name,
        "vname": f.label_key,
        "type": f.type,
        "required": f.required,
        "audited": f.audited,
        "massupdate": f.type in ("enum", "bool", "date"),
        "reportable": True,
        "importable": "true",
        "inline_edit": True,
    }
    if f.help:
        d["help"] = f.help
    if f.type == "varchar":
        d["len"] = field_length(f)
    elif f.type in ("enum", "multienum"):
        d["options"] = f.options
        d["len"] = field_length(f)
        if f.type == "multienum":
            d["isMultiSelect"] = True
    elif f.type == "decimal":
        d["len"] = field_length(f)
        d["precision"] = f.precision if f.precision is not None else 8
    elif f.type == "currency":
        d.update({"dbType": "decimal", "len": 26, "precision": 6})
    elif f.type == "int":
        d["len"] = field_length(f)
    elif f.type == "relate":
        d.update(
            {
                "source": "non-db",
                "id_name": f.id_field,
                "ext2": f.module,
                "module": f.module,
                "rname": rname(f.module or "", schema),
                "studio": "visible",
            }
        )
        if is_person(f.module or "", schema):
            d["db_concat_fields"] = ["first_name", "last_name"]
    if f.default is not None:
        d["default"] = f.default
    return d


def field_length(f: Field) -> int:
    """A field's ``len``: the schema's, else SuiteCRM's default for its type."""
    if f.length is not None:
        return f.length
    return {"varchar": 255, "enum": 100, "multienum": 100, "int": 11, "decimal": 18, "currency": 26}.get(
        f.type, 0
    )


def id_label_key(f: Field) -> str:
    """Label key of a relate field's id column."""
    return f"LBL_{(f.id_field or '').upper()}"


def rname(module: str, schema: Schema) -> str:
    """The field a relate to ``module`` shows (``name``; people: their stock rname)."""
    return STOCK_MODULES[module].rname if module in STOCK_MODULES else "name"


def is_person(module: str, schema: Schema) -> bool:
    """Whether ``module`` is a stock person module (first and last name)."""
    return module in STOCK_MODULES and STOCK_MODULES[module].person


def bean_properties(m: Module) -> list[str]:
    """Bean class properties: the templates' fields, then the module's (as Module Builder lists them)."""
    names = [n for t in m.templates for n in TEMPLATE_FIELDS[t] if n != "securitygroups"]
    names += [f.name for f in m.fields]
    names += [f.id_field for f in m.fields if f.type == "relate" and f.id_field]
    if any(f.type == "currency" for f in m.fields):
        names.append("currency_id")
    return names
