"""Checks of new modules (names, tables, labels, templates, layouts) and of fields, on new modules
and as ``custom_fields`` on stock modules."""

from __future__ import annotations

from typing import Any

from suitecrm_ext.packaging.checker import Checker, kind_of
from suitecrm_ext.packaging.model import Dropdown, Field, Labels, Module, Relationship
from suitecrm_ext.packaging.stock import STOCK_MODULES
from suitecrm_ext.packaging.vocabulary import (
    FIELD_TYPES,
    LAYOUTS,
    MAX_DB_IDENTIFIER,
    MAX_MODULE_NAME,
    MODULE_NAME_RE,
    TEMPLATE_FIELDS,
    TEMPLATES,
)

__all__ = ["ModuleChecks"]


class ModuleChecks(Checker):
    """The ``modules`` and ``custom_fields`` sections."""

    def field(self, loc: tuple, raw: Any, dropdowns: set[str], *, custom: bool) -> Field | None:
        m = self.mapping(loc, raw)
        if m is None:
            return None
        name = m.get("name")
        label = name if isinstance(name, str) else None
        self.keys(
            loc,
            m,
            (
                "name",
                "type",
                "label",
                "required",
                "default",
                "len",
                "length",
                "precision",
                "audited",
                "options",
                "module",
                "id_field",
                "help",
            ),
            ("name", "type"),
            label,
        )
        self.identifier(loc + ("name",), name, "field")
        if custom and isinstance(name, str) and not name.endswith("_c"):
            self.err(
                loc + ("name",),
                f"custom field names end in _c, as SuiteCRM's Studio names them (write {name}_c)",
                label,
            )
        ftype = m.get("type")
        if custom and ftype == "currency":
            self.err(loc + ("type",), "currency custom fields are not supported; use decimal", label)
        if ftype is not None and ftype not in FIELD_TYPES:
            self.err(
                loc + ("type",), f"unknown type {ftype!r}; expected one of {', '.join(FIELD_TYPES)}", label
            )
        if "len" in m and "length" in m:
            self.err(loc + ("length",), "give len or length, not both", label)
        length = self.number(
            loc + ("len" if "len" in m else "length",), m.get("len", m.get("length")), 1, 65535, label
        )
        precision = self.number(loc + ("precision",), m.get("precision"), 0, 30, label)
        if ftype == "varchar" and length is not None and length > 16383:
            self.err(loc + ("len",), "varchar longer than 16383 characters; use type text", label)
        if ftype == "decimal" and length is not None and length > 65:
            self.err(loc + ("len",), "decimal precision is at most 65 digits", label)
        options = m.get("options")
        if ftype in ("enum", "multienum"):
            if not options:
                self.err(
                    loc + ("options",), f"{ftype} fields need options: the name of a dropdown list", label
                )
            elif options not in dropdowns:
                self.err(
                    loc + ("options",),
                    f"unknown dropdown list {options!r}; declare it under dropdowns:",
                    label,
                )
        elif options is not None:
            self.err(
                loc + ("options",), f"options only apply to enum and multienum fields, not {ftype}", label
            )
        module = m.get("module")
        id_field = m.get("id_field")
        if ftype == "relate":
            if custom:
                self.err(loc + ("type",), "relate custom fields are not supported; use a relationship", label)
            if not module:
                self.err(loc + ("module",), "relate fields need module: the module they point to", label)
            if not id_field:
                self.err(loc + ("id_field",), "relate fields need id_field: the column storing the id", label)
            else:
                self.identifier(loc + ("id_field",), id_field, "id field")
        else:
            for k, v in (("module", module), ("id_field", id_field)):
                if v is not None:
                    self.err(loc + (k,), f"{k} only applies to relate fields, not {ftype}", label)
        default = m.get("default")
        if default is not None and not isinstance(default, (str, int, float, bool)):
            self.err(loc + ("default",), f"default must be a single value, not {kind_of(default)}", label)
        if isinstance(default, bool):
            default = "1" if default else "0"
        return Field(
            name=str(name or ""),
            type=str(ftype or ""),
            label=self.labels(loc + ("label",), m.get("label"), label),
            required=self.flag(loc + ("required",), m.get("required"), label),
            default=None if default is None else str(default),
            length=length,
            precision=precision,
            audited=self.flag(loc + ("audited",), m.get("audited"), label),
            options=options if isinstance(options, str) else None,
            module=module if isinstance(module, str) else None,
            id_field=id_field if isinstance(id_field, str) else None,
            help=self.text(loc + ("help",), m.get("help"), label),
        )

    def check_enum_default(self, loc: tuple, f: Field, dropdowns: dict[str, Dropdown]) -> None:
        if f.type in ("enum", "multienum") and f.default is not None and f.options in dropdowns:
            if f.default not in dropdowns[f.options].keys:
                self.err(
                    loc + ("default",), f"default {f.default!r} is not a key of dropdown {f.options}", f.name
                )

    def modules(self, raw: Any, dropdowns: set[str]) -> list[Module]:
        items = self.seq(("modules",), raw)
        out: list[Module] = []
        seen_names: dict[str, int] = {}
        seen_tables: dict[str, int] = {}
        for i, item in enumerate(items or []):
            loc = ("modules", i)
            m = self.mapping(loc, item)
            if m is None:
                continue
            name = m.get("name")
            label = name if isinstance(name, str) else None
            self.keys(
                loc,
                m,
                ("name", "table", "label", "template", "audited", "tab", "importable", "unified_search",
                 "fields", "layouts"),
                ("name", "label"),
                label,
            )
            self.identifier(loc + ("name",), name, "module", pattern=MODULE_NAME_RE, limit=MAX_MODULE_NAME)
            if isinstance(name, str):
                if name in STOCK_MODULES:
                    self.err(
                        loc + ("name",),
                        f"{name} is a stock SuiteCRM module; add custom_fields to it instead",
                        label,
                    )
                if name.lower() in seen_names:
                    self.err(
                        loc + ("name",),
                        f"duplicate module name (also modules[{seen_names[name.lower()]}])",
                        label,
                    )
                seen_names[name.lower()] = i
            table = m.get("table", name.lower() if isinstance(name, str) else "")
            self.identifier(loc + ("table",), table, "table")
            if isinstance(table, str):
                stock_tables = {s.table for s in STOCK_MODULES.values()}
                if table in stock_tables:
                    self.err(loc + ("table",), f"table {table!r} belongs to a stock module", label)
                if table in seen_tables:
                    self.err(loc + ("table",), f"duplicate table (also modules[{seen_tables[table]}])", label)
                if len(table) + len("_audit") > MAX_DB_IDENTIFIER:
                    self.err(
                        loc + ("table",),
                        f"table {table!r} leaves no room for its {table}_audit table "
                        f"(limit {MAX_DB_IDENTIFIER} characters)",
                        label,
                    )
                seen_tables[table] = i
            lm = self.mapping(loc + ("label",), m.get("label"), label) or {}
            self.keys(loc + ("label",), lm, ("singular", "plural"), ("singular", "plural"), label)
            singular = (
                self.labels(loc + ("label", "singular"), lm.get("singular"), label) if lm else Labels("", "")
            )
            plural = self.labels(loc + ("label", "plural"), lm.get("plural"), label) if lm else Labels("", "")
            template = m.get("template", "basic")
            if template not in TEMPLATES:
                self.err(
                    loc + ("template",),
                    f"unknown template {template!r}; expected one of {', '.join(TEMPLATES)}",
                    label,
                )
                template = "basic"
            fields: list[Field] = []
            field_names: dict[str, int] = {}
            reserved = {
                n.lower() for t in TEMPLATES[: TEMPLATES.index(template) + 1] for n in TEMPLATE_FIELDS[t]
            }
            for fi, fraw in enumerate(self.seq(loc + ("fields",), m.get("fields"), label) or []):
                floc = loc + ("fields", fi)
                f = self.field(floc, fraw, dropdowns, custom=False)
                if f is None:
                    continue
                for n in filter(None, (f.name, f.id_field)):
                    if n in reserved:
                        self.err(
                            floc + ("name",),
                            f"field {n!r} duplicates a field SuiteCRM's {template} template already adds",
                            f.name,
                        )
                    elif n in field_names:
                        self.err(
                            floc + ("name",), f"duplicate field {n!r} (also fields[{field_names[n]}])", f.name
                        )
                    field_names[n] = fi
                fields.append(f)
            if any(f.type == "currency" for f in fields) and "currency_id" in field_names:
                self.err(
                    loc + ("fields", field_names["currency_id"], "name"),
                    "currency fields bring their own currency_id field; rename this one",
                    label,
                )
            out.append(
                Module(
                    name=str(name or ""),
                    table=str(table or ""),
                    singular=singular,
                    plural=plural,
                    template=template,
                    audited=self.flag(loc + ("audited",), m.get("audited"), label),
                    tab=self.flag(loc + ("tab",), m.get("tab"), label, default=True),
                    importable=self.flag(loc + ("importable",), m.get("importable"), label),
                    unified_search=self.flag(loc + ("unified_search",), m.get("unified_search"), label,
                                             default=True),
                    fields=tuple(fields),
                    layouts=self.layouts(loc + ("layouts",), m.get("layouts"), label),
                )
            )
        return out

    def layouts(self, loc: tuple, raw: Any, module: str | None) -> dict[str, tuple[str, ...]]:
        m = self.mapping(loc, raw, module)
        if not m:
            return {}
        self.keys(loc, m, LAYOUTS, (), module)
        out = {}
        for view in LAYOUTS:
            if view in m:
                items = self.seq(loc + (view,), m[view], module) or []
                names = []
                for j, n in enumerate(items):
                    if not isinstance(n, str):
                        self.err(loc + (view, j), f"layout entries are field names, not {kind_of(n)}", module)
                    else:
                        names.append(n)
                out[view] = tuple(names)
        return out

    def layouts_check(self, modules: list[Module], relationships: list[Relationship]) -> None:
        for i, mod in enumerate(modules):
            allowed = {
                "name",
                "description",
                "date_entered",
                "date_modified",
                "created_by_name",
                "modified_by_name",
            }
            if mod.assignable:
                allowed.add("assigned_user_name")
            allowed |= {f.name for f in mod.fields}
            allowed |= {
                r.relate_field for r in relationships if r.type == "one-to-many" and r.rhs == mod.name
            }
            for view, names in mod.layouts.items():
                seen = set()
                for j, n in enumerate(names):
                    if n not in allowed:
                        self.err(
                            ("modules", i, "layouts", view, j),
                            f"layout names unknown field {n!r}; known: {', '.join(sorted(allowed))}",
                            mod.name,
                        )
                    if n in seen:
                        self.err(("modules", i, "layouts", view, j), f"field {n!r} appears twice", mod.name)
                    seen.add(n)

    def custom_fields(self, raw: Any, dropdowns: set[str], own: set[str]) -> dict[str, tuple[Field, ...]]:
        m = self.mapping(("custom_fields",), raw)
        out: dict[str, tuple[Field, ...]] = {}
        for mod, items in (m or {}).items():
            loc = ("custom_fields", mod)
            if mod not in STOCK_MODULES:
                hint = " (declare its fields under modules: instead)" if mod in own else ""
                owner = next((r for r in self.required if r.module(mod)), None)
                if owner is not None:
                    hint = f" (it is a module of the required package {owner.package.id}; add fields there)"
                self.err(
                    loc,
                    f"custom_fields go on stock modules; {mod!r} is not one{hint}: "
                    f"{', '.join(sorted(STOCK_MODULES))}",
                )
                continue
            fields: list[Field] = []
            names: dict[str, int] = {}
            for i, fraw in enumerate(self.seq(loc, items, mod) or []):
                f = self.field(loc + (i,), fraw, dropdowns, custom=True)
                if f is None:
                    continue
                if f.name in names:
                    self.err(
                        loc + (i, "name"), f"duplicate field {f.name!r} (also {mod}[{names[f.name]}])", f.name
                    )
                names[f.name] = i
                fields.append(f)
            out[mod] = tuple(fields)
        return out
