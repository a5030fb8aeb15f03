"""The PHP of a new module's user interface, as Module Builder writes it: ``Menu.php``, the module's
language file, the edit/detail/list/search view definitions, ``SearchFields.php`` and the default
subpanel; which fields each view shows (the schema's ``layouts`` or the defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suitecrm_ext.packaging.model import Labels, Module, Schema
from suitecrm_ext.packaging.php import ENTRY_GUARD, PHP_HEADER, php_assign, php_string
from suitecrm_ext.packaging.vardefs import id_label_key

__all__ = [
    "edit_detail", "label_key_of", "listviewdefs", "menu", "module_language", "searchdefs", "searchfields",
    "subpanel_default", "view_fields",
]


def menu(m: Module) -> str:
    """``Menu.php``: create, list and (importable modules) import entries, each behind its ACL check."""
    name = php_string(m.name)
    out = PHP_HEADER + ENTRY_GUARD + "\nglobal $mod_strings, $app_strings, $sugar_config;\n\n"
    out += (
        f"if (ACLController::checkAccess({name}, 'edit', true)) {{\n"
        f"    $module_menu[] = array('index.php?module={m.name}&action=EditView&return_module={m.name}"
        f"&return_action=DetailView', $mod_strings['LNK_NEW_RECORD'], 'Add', {name});\n}}\n"
    )
    out += (
        f"if (ACLController::checkAccess({name}, 'list', true)) {{\n"
        f"    $module_menu[] = array('index.php?module={m.name}&action=index&return_module={m.name}"
        f"&return_action=DetailView', $mod_strings['LNK_LIST'], 'View', {name});\n}}\n"
    )
    if m.importable:
        out += (
            f"if (ACLController::checkAccess({name}, 'import', true)) {{\n"
            f"    $module_menu[] = array('index.php?module=Import&action=Step1&import_module={m.name}"
            f"&return_module={m.name}&return_action=index', $app_strings['LBL_IMPORT'], 'Import', "
            f"{name});\n}}\n"
        )
    return out


def module_language(m: Module, lang: str, rel_labels: Mapping[str, Labels]) -> str:
    """The module's ``language/<lang>.lang.php``: its names, field labels and ``rel_labels`` (relationship
    titles shown on it)."""
    ru = lang == "ru_ru"
    one, many = m.singular.get(lang), m.plural.get(lang)
    strings = {
        "LBL_MODULE_NAME": many,
        "LBL_MODULE_NAME_SINGULAR": one,
        "LBL_MODULE_TITLE": many,
        "LNK_NEW_RECORD": f"Создать: {one}" if ru else f"Create {one}",
        "LNK_LIST": f"Просмотр: {many}" if ru else f"View {many}",
        "LBL_LIST_FORM_TITLE": f"Список: {many}" if ru else f"{many} List",
        "LBL_SEARCH_FORM_TITLE": f"Поиск: {many}" if ru else f"Search {many}",
        "LBL_HOMEPAGE_TITLE": f"Мои: {many}" if ru else f"My {many}",
    }
    for f in m.fields:
        strings[f.label_key] = f.label.get(lang)
        if f.type == "relate":
            strings[id_label_key(f)] = f"{f.label.get(lang)} (ID)"
    if any(f.type == "currency" for f in m.fields):
        strings["LBL_CURRENCY"] = "Валюта" if ru else "Currency"
    for key, labels in sorted(rel_labels.items()):
        strings[key] = labels.get(lang)
    return PHP_HEADER + "\n" + php_assign("$mod_strings", strings)


def edit_detail(m: Module, view: str, names: list[str]) -> str:
    """``editviewdefs.php`` / ``detailviewdefs.php`` (``view``: EditView or DetailView), ``names`` in two
    columns."""
    rows = [names[i : i + 2] for i in range(0, len(names), 2)]
    meta: dict[str, Any] = {
        "maxColumns": "2",
        "widths": [{"label": "10", "field": "30"}, {"label": "10", "field": "30"}],
    }
    if view == "DetailView":
        meta = {"form": {"buttons": ["EDIT", "DUPLICATE", "DELETE", "FIND_DUPLICATES"]}} | meta
    body = {"templateMeta": meta, "panels": {"default": rows}}
    return (
        PHP_HEADER + "\n" + php_assign(f"$viewdefs[{php_string(m.name)}][{php_string(view)}]", body)
    )


def listviewdefs(m: Module, names: list[str], schema: Schema) -> str:
    """``listviewdefs.php``: the columns ``names``, name linked to the record."""
    defs: dict[str, Any] = {}
    width = str(max(10, 90 // max(1, len(names))))
    for n in names:
        entry: dict[str, Any] = {"width": width, "label": label_key_of(m, n, schema), "default": True}
        if n == "name":
            entry["link"] = True
        if n == "assigned_user_name":
            entry.update({"module": "Employees", "id": "ASSIGNED_USER_ID"})
        defs[n.upper()] = entry
    return (
        PHP_HEADER + "\n" + php_assign(f"$listViewDefs[{php_string(m.name)}]", defs)
    )


def searchdefs(m: Module, names: list[str]) -> str:
    """``searchdefs.php``: basic search by name (and the current-user filter), advanced by ``names``."""
    basic: list[Any] = ["name"]
    if m.assignable:
        basic.append({"name": "current_user_only", "label": "LBL_CURRENT_USER_FILTER", "type": "bool"})
    advanced: list[Any] = list(names)
    if m.assignable and "assigned_user_name" not in names:
        advanced.append(
            {
                "name": "assigned_user_id",
                "label": "LBL_ASSIGNED_TO",
                "type": "enum",
                "function": {"name": "get_user_array", "params": [False]},
            }
        )
    body = {
        "templateMeta": {
            "maxColumns": "3",
            "maxColumnsBasic": "4",
            "widths": {"label": "10", "field": "30"},
        },
        "layout": {"basic_search": basic, "advanced_search": advanced},
    }
    return (
        PHP_HEADER + "\n" + php_assign(f"$searchdefs[{php_string(m.name)}]", body)
    )


def searchfields(m: Module, names: list[str]) -> str:
    """``SearchFields.php``: how the stored search fields (and the assignment filters) are queried."""
    defs: dict[str, Any] = {"name": {"query_type": "default"}}
    for n in names:
        f = m.field(n)
        if f is not None and f.stored:
            defs[n] = {"query_type": "default"}
    if m.assignable:
        defs["current_user_only"] = {
            "query_type": "default",
            "db_field": ["assigned_user_id"],
            "my_items": True,
            "vname": "LBL_CURRENT_USER_FILTER",
            "type": "bool",
        }
        defs["assigned_user_id"] = {"query_type": "default"}
    return (
        PHP_HEADER + "\n" + php_assign(f"$searchFields[{php_string(m.name)}]", defs)
    )


def subpanel_default(m: Module) -> str:
    """``metadata/subpanels/default.php``: what a subpanel listing this module's records shows."""
    mod = m.name
    body = {
        "top_buttons": [
            {"widget_class": "SubPanelTopCreateButton"},
            {"widget_class": "SubPanelTopSelectButton", "popup_module": mod},
        ],
        "where": "",
        "list_fields": {
            "name": {"vname": "LBL_NAME", "widget_class": "SubPanelDetailViewLink", "width": "45%"},
            "date_modified": {"vname": "LBL_DATE_MODIFIED", "width": "45%"},
            "edit_button": {"widget_class": "SubPanelEditButton", "module": mod, "width": "4%"},
            "remove_button": {"widget_class": "SubPanelRemoveButton", "module": mod, "width": "5%"},
        },
    }
    return (
        PHP_HEADER + "\n" + php_assign("$subpanel_layout", body)
    )


def label_key_of(m: Module, name: str, schema: Schema) -> str:
    """The label key of a field a view shows (own, relate of a relationship, or a template field)."""
    f = m.field(name)
    if f is not None:
        return f.label_key
    for r in schema.relationships:
        if r.type == "one-to-many" and r.rhs == m.name and r.relate_field == name:
            return r.title_key(r.rhs)
    return {
        "assigned_user_name": "LBL_ASSIGNED_TO_NAME",
        "created_by_name": "LBL_CREATED",
        "modified_by_name": "LBL_MODIFIED_NAME",
    }.get(name, f"LBL_{name.upper()}")


def view_fields(m: Module, schema: Schema) -> dict[str, list[str]]:
    """Field order per view: the schema's, or defaults (name, the fields in order, description)."""
    rel_fields = [r.relate_field for r in schema.relationships if r.type == "one-to-many" and r.rhs == m.name]
    own = [f.name for f in m.fields]
    assigned = ["assigned_user_name"] if m.assignable else []
    defaults = {
        "list": ["name"] + [f.name for f in m.fields if f.type not in ("text", "multienum")][:4] + assigned,
        "edit": ["name"] + assigned + rel_fields + own + ["description"],
        "detail": ["name"] + assigned + rel_fields + own + ["description"],
        "search": ["name"] + [f.name for f in m.fields if f.type in ("varchar", "enum")][:3],
    }
    return {view: list(m.layouts.get(view, defaults[view])) for view in defaults}

