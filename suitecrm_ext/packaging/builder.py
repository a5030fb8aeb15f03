"""Build a SuiteCRM Module Loader package (zip) from a validated plugin :class:`Schema`.

The layout follows what SuiteCRM 7's Module Builder exports (``MBPackage::build``, ``MBModule::build``,
``AbstractRelationships::build``) and what ``ModuleInstaller`` reads:

- ``manifest.php``: ``$manifest`` (name, version, acceptable_sugar_versions 6.5.x — SuiteCRM 7 reports
  ``$sugar_version`` 6.5.x —, type ``module``, is_uninstallable, the ``dependencies`` on the packages the
  schema requires, …) and ``$installdefs`` (id, beans,
  copy, language, relationships, layoutdefs, vardefs, custom_fields, logic_hooks; ``aow_actions`` when
  the schema ships workflow actions);
- ``SugarModules/modules/<Module>/``: bean class, vardefs.php, Menu.php, language/, metadata/;
- ``SugarModules/relationships/``: ``relationships/<rel>MetaData.php``, ``vardefs/<rel>_<Module>.php``,
  ``layoutdefs/<rel>_<Module>.php``;
- ``SugarModules/language/<Module|application>/<lang>.lang.php``: labels added to existing modules,
  the module list and dropdown lists. ``ModuleInstaller::install_languages`` copies one file per module
  and language per package, so each target gets exactly one file per language.

Output is deterministic: files in sorted order, every zip entry stamped with the package date.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suitecrm_ext.packaging.php import ENTRY_GUARD, PHP_HEADER, php_assign, php_string
from suitecrm_ext.packaging.requires import manifest_dependency
from suitecrm_ext.packaging.schema import (
    LANGUAGES,
    TEMPLATE_FIELDS,
    Field,
    Labels,
    Module,
    Relationship,
    Schema,
)
from suitecrm_ext.packaging.stock import STOCK_MODULES

__all__ = ["INSTALLDEF_KEYS", "Package", "PackageError", "build_package", "package_files", "zip_name"]

#: Keys of ``$installdefs`` every package carries (ModuleInstaller skips empty ones).
INSTALLDEF_KEYS = (
    "id",
    "beans",
    "copy",
    "language",
    "relationships",
    "layoutdefs",
    "vardefs",
    "custom_fields",
    "logic_hooks",
)
#: SuiteCRM 7 keeps ``$sugar_version`` at 6.5.x; Module Loader checks packages against it.
ACCEPTABLE_SUGAR_VERSIONS = {"regex_matches": ["^6\\.5\\.[0-9]+$"]}

_SUGAR = "<basepath>/SugarModules"


class PackageError(Exception):
    """The package cannot be built (e.g. a feature the schema asks for is not available)."""


@dataclass(frozen=True)
class Package:
    """A built package: its files (path in the zip → text) and the ``$installdefs`` it declares."""

    schema: Schema
    files: dict[str, str]
    installdefs: dict[str, Any]
    published: dt.datetime

    @property
    def zip_name(self) -> str:
        """``<plugin>-<version>.zip``."""
        return zip_name(self.schema)

    def write_zip(self, path: str | Path) -> Path:
        """Write the zip (sorted entries, fixed timestamps, so equal inputs give equal bytes)."""
        path = Path(path)
        stamp = self.published.timetuple()[:6]
        tmp = path.with_name(path.name + ".part")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(self.files):
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, self.files[name].encode("utf-8"))
        os.replace(tmp, path)  # never leave a half-written zip under the final name
        return path


def zip_name(schema: Schema) -> str:
    """File name of a schema's package: ``<plugin>-<version>.zip``."""
    return f"{schema.plugin}-{schema.package.version}.zip"


def default_published() -> dt.datetime:
    """Package date: ``$SOURCE_DATE_EPOCH`` when set (reproducible builds), else today 00:00 UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).replace(tzinfo=None)
    today = dt.datetime.now(dt.timezone.utc).date()
    return dt.datetime(today.year, today.month, today.day)


def build_package(
    schema: Schema, out_dir: str | Path, published: dt.datetime | None = None, **options: Any
) -> Path:
    """Build ``<out_dir>/<plugin>-<version>.zip`` and return its path. Raises :class:`PackageError`.

    ``options`` go to :func:`package_files` (``sidecar_url``, ``fail_modes``, ``validate_timeout_ms``).
    """
    pkg = package_files(schema, published, **options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return pkg.write_zip(out / pkg.zip_name)


def package_files(
    schema: Schema,
    published: dt.datetime | None = None,
    *,
    sidecar_url: str | None = None,
    fail_modes: dict[str, str] | None = None,
    validate_timeout_ms: int | None = None,
) -> Package:
    """Every file of the package for ``schema``, with its ``$installdefs``.

    ``sidecar_url`` (the push receiver's URL as SuiteCRM reaches it) and ``fail_modes`` (module →
    open/closed, ``events.validation_fail_mode``) are needed only when the schema asks for logic hooks;
    ``validate_timeout_ms``: how long the hook waits for a validation answer (default: the generator's).
    """
    if schema.is_empty:
        raise PackageError(
            f"plugin {schema.plugin} adds nothing to SuiteCRM ({schema.source}): no package to build"
        )
    return _Builder(schema, published or default_published(), sidecar_url, fail_modes,
                    validate_timeout_ms).build()


# --- the builder -----------------------------------------------------------------------------------


class _Builder:
    def __init__(
        self,
        schema: Schema,
        published: dt.datetime,
        sidecar_url: str | None,
        fail_modes: dict[str, str] | None,
        validate_timeout_ms: int | None = None,
    ):
        self.s = schema
        self.sidecar_url = sidecar_url
        self.fail_modes = fail_modes or {}
        self.timeouts = {"validate_timeout_ms": validate_timeout_ms} if validate_timeout_ms else {}
        self.published = published.replace(microsecond=0)
        self.files: dict[str, str] = {}
        # target module → language → label key → text (stock modules and "application" lists)
        self.ext_labels: dict[str, dict[str, dict[str, str]]] = {}
        # new module → label key → Labels (relationship titles shown on it)
        self.module_rel_labels: dict[str, dict[str, Labels]] = {m.name: {} for m in schema.modules}
        self.idefs: dict[str, Any] = {key: [] for key in INSTALLDEF_KEYS}
        self.idefs["id"] = schema.package.id

    def build(self) -> Package:
        rel_vardefs, rel_layouts = self.relationships()
        for m in self.s.modules:
            self.module(m)
        for mod, fields in self.s.custom_fields.items():
            self.custom_fields(mod, fields)
        self.idefs["vardefs"] = rel_vardefs
        self.idefs["layoutdefs"] = rel_layouts
        self.logic_hooks()
        self.aow_actions()
        self.languages()
        self.files["manifest.php"] = self.manifest()
        return Package(schema=self.s, files=self.files, installdefs=self.idefs, published=self.published)

    # -- manifest --

    def manifest(self) -> str:
        p = self.s.package
        manifest = {
            "acceptable_sugar_versions": ACCEPTABLE_SUGAR_VERSIONS,
            "acceptable_sugar_flavors": ["CE"],
            "readme": "",
            "key": p.id,
            "author": p.author,
            "description": p.description,
            "icon": "",
            "is_uninstallable": True,
            "name": p.name,
            "published_date": self.published.strftime("%Y-%m-%d %H:%M:%S"),
            "type": "module",
            "version": p.version,
            "remove_tables": "prompt",
        }
        if self.s.requires:
            # Module Loader refuses the package unless these are installed (UpgradeHistory::checkDependencies)
            manifest["dependencies"] = [manifest_dependency(r) for r in self.s.requires]
        return (
            PHP_HEADER
            + "\n"
            + php_assign("$manifest", manifest)
            + "\n"
            + php_assign("$installdefs", self.idefs)
        )

    # -- modules --

    def module(self, m: Module) -> None:
        base = f"SugarModules/modules/{m.name}"
        self.idefs["beans"].append(
            {"module": m.name, "class": m.name, "path": f"modules/{m.name}/{m.name}.php", "tab": m.tab}
        )
        self.idefs["copy"].append({"from": f"<basepath>/{base}", "to": f"modules/{m.name}"})
        self.files[f"{base}/{m.name}.php"] = self.bean_class(m)
        self.files[f"{base}/vardefs.php"] = self.vardefs(m)
        self.files[f"{base}/Menu.php"] = self.menu(m)
        for lang in LANGUAGES:
            self.files[f"{base}/language/{lang}.lang.php"] = self.module_language(m, lang)
        meta = f"{base}/metadata"
        layouts = _layouts(m, self.s)
        self.files[f"{meta}/editviewdefs.php"] = self.edit_detail(m, "EditView", layouts["edit"])
        self.files[f"{meta}/detailviewdefs.php"] = self.edit_detail(m, "DetailView", layouts["detail"])
        self.files[f"{meta}/listviewdefs.php"] = self.listviewdefs(m, layouts["list"])
        self.files[f"{meta}/searchdefs.php"] = self.searchdefs(m, layouts["search"])
        self.files[f"{meta}/SearchFields.php"] = self.searchfields(m, layouts["search"])
        self.files[f"{meta}/subpanels/default.php"] = self.subpanel_default(m)
        for lang in LANGUAGES:
            labels = self.ext_labels.setdefault("application", {}).setdefault(lang, {})
            labels[f"moduleList.{m.name}"] = m.plural.get(lang)
            labels[f"moduleListSingular.{m.name}"] = m.singular.get(lang)

    def bean_class(self, m: Module) -> str:
        props = "".join(f"    public ${name};\n" for name in _bean_properties(m))
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

    def vardefs(self, m: Module) -> str:
        fields: dict[str, Any] = {}
        for f in m.fields:
            fields[f.name] = field_vardef(f, self.s)
            if f.type == "relate":
                fields[f.id_field] = {
                    "name": f.id_field,
                    "vname": _id_label_key(f),
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

    def menu(self, m: Module) -> str:
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

    def module_language(self, m: Module, lang: str) -> str:
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
                strings[_id_label_key(f)] = f"{f.label.get(lang)} (ID)"
        if any(f.type == "currency" for f in m.fields):
            strings["LBL_CURRENCY"] = "Валюта" if ru else "Currency"
        for key, labels in sorted(self.module_rel_labels[m.name].items()):
            strings[key] = labels.get(lang)
        return PHP_HEADER + "\n" + php_assign("$mod_strings", strings)

    def edit_detail(self, m: Module, view: str, names: list[str]) -> str:
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

    def listviewdefs(self, m: Module, names: list[str]) -> str:
        defs: dict[str, Any] = {}
        width = str(max(10, 90 // max(1, len(names))))
        for n in names:
            entry: dict[str, Any] = {"width": width, "label": _label_key_of(m, n, self.s), "default": True}
            if n == "name":
                entry["link"] = True
            if n == "assigned_user_name":
                entry.update({"module": "Employees", "id": "ASSIGNED_USER_ID"})
            defs[n.upper()] = entry
        return (
            PHP_HEADER + "\n" + php_assign(f"$listViewDefs[{php_string(m.name)}]", defs)
        )

    def searchdefs(self, m: Module, names: list[str]) -> str:
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

    def searchfields(self, m: Module, names: list[str]) -> str:
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

    def subpanel_default(self, m: Module) -> str:
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

    # -- relationships --

    def relationships(self) -> tuple[list[dict], list[dict]]:
        vardef_defs: list[dict] = []
        layout_defs: list[dict] = []
        for r in self.s.relationships:
            path = f"SugarModules/relationships/relationships/{r.name}MetaData.php"
            self.files[path] = (
                PHP_HEADER + "\n" + php_assign(f"$dictionary[{php_string(r.name)}]", self.rel_meta(r))
            )
            self.idefs["relationships"].append(
                {"meta_data": f"{_SUGAR}/relationships/relationships/{r.name}MetaData.php"}
            )
            for module, defs in self.rel_vardefs(r).items():
                obj = self.s.dictionary_of(module)
                fname = f"{r.name}_{module}.php"
                out = PHP_HEADER + "\n"
                for d in defs:
                    out += php_assign(f"$dictionary[{php_string(obj)}]['fields'][{php_string(d['name'])}]", d)
                self.files[f"SugarModules/relationships/vardefs/{fname}"] = out
                vardef_defs.append({"from": f"{_SUGAR}/relationships/vardefs/{fname}", "to_module": module})
            for module in r.subpanels:
                other = r.rhs if module == r.lhs else r.lhs
                fname = f"{r.name}_{module}.php"
                sub = {
                    "order": 100,
                    "module": other,
                    "subpanel_name": "default",
                    "sort_order": "asc",
                    "sort_by": "id",
                    "title_key": r.title_key(module),
                    "get_subpanel_data": r.name,
                    "top_buttons": [
                        {"widget_class": "SubPanelTopButtonQuickCreate"},
                        {"widget_class": "SubPanelTopSelectButton", "mode": "MultiSelect"},
                    ],
                }
                self.files[f"SugarModules/relationships/layoutdefs/{fname}"] = (
                    PHP_HEADER
                    + "\n"
                    + php_assign(
                        f"$layout_defs[{php_string(module)}]['subpanel_setup'][{php_string(r.name)}]", sub
                    )
                )
                layout_defs.append(
                    {"from": f"{_SUGAR}/relationships/layoutdefs/{fname}", "to_module": module}
                )
            # labels: the title of what each side shows of the other
            for module in (r.lhs, r.rhs):
                other = r.rhs if module == r.lhs else r.lhs
                title = r.titles.get(module) or self.s.plural_of(other)
                self._label(module, r.title_key(module), title)
            if r.type == "one-to-many":
                # the link2 field on the rhs uses the lhs-side title key (Module Builder does the same)
                self._label(r.rhs, r.title_key(r.lhs), r.titles.get(r.lhs) or self.s.plural_of(r.lhs))
        return vardef_defs, layout_defs

    def _label(self, module: str, key: str, text: Labels) -> None:
        if module in self.module_rel_labels:
            self.module_rel_labels[module][key] = text
        else:
            for lang in LANGUAGES:
                self.ext_labels.setdefault(module, {}).setdefault(lang, {})[key] = text.get(lang)

    def rel_meta(self, r: Relationship) -> dict[str, Any]:
        lt, rt = self.s.table_of(r.lhs), self.s.table_of(r.rhs)
        ka, kb = r.join_key_lhs, r.join_key_rhs
        fields: list[dict[str, Any]] = [
            {"name": "id", "type": "varchar", "len": 36},
            {"name": "date_modified", "type": "datetime"},
            {"name": "deleted", "type": "bool", "len": "1", "default": "0", "required": True},
            {"name": ka, "type": "varchar", "len": 36},
            {"name": kb, "type": "varchar", "len": 36},
        ]
        if "Documents" in (r.lhs, r.rhs):
            fields.append({"name": "document_revision_id", "type": "varchar", "len": "36"})
        base = r.name.lower()
        indices: list[dict[str, Any]] = [{"name": f"{base}spk", "type": "primary", "fields": ["id"]}]
        if r.type == "one-to-many":
            indices.append({"name": f"{base}_ida1", "type": "index", "fields": [ka]})
            indices.append({"name": f"{base}_alt", "type": "alternate_key", "fields": [kb]})
        else:
            indices.append({"name": f"{base}_alt", "type": "alternate_key", "fields": [ka, kb]})
        return {
            "true_relationship_type": r.type,
            "relationships": {
                r.name: {
                    "lhs_module": r.lhs,
                    "lhs_table": lt,
                    "lhs_key": "id",
                    "rhs_module": r.rhs,
                    "rhs_table": rt,
                    "rhs_key": "id",
                    "relationship_type": "many-to-many",
                    "join_table": r.join_table,
                    "join_key_lhs": ka,
                    "join_key_rhs": kb,
                }
            },
            "table": r.join_table,
            "fields": fields,
            "indices": indices,
        }

    def rel_vardefs(self, r: Relationship) -> dict[str, list[dict[str, Any]]]:
        lhs_obj, rhs_obj = self.s.object_of(r.lhs), self.s.object_of(r.rhs)
        from_l, from_r = r.title_key(r.rhs), r.title_key(r.lhs)  # key shown on rhs / on lhs
        out: dict[str, list[dict[str, Any]]] = {r.rhs: [], r.lhs: []}
        link_on_rhs = {
            "name": r.name,
            "type": "link",
            "relationship": r.name,
            "source": "non-db",
            "module": r.lhs,
            "bean_name": lhs_obj,
            "vname": from_l,
        }
        link_on_lhs = {
            "name": r.name,
            "type": "link",
            "relationship": r.name,
            "source": "non-db",
            "module": r.rhs,
            "bean_name": rhs_obj,
            "vname": from_r,
        }
        if r.type == "one-to-many":
            link_on_rhs["id_name"] = r.join_key_lhs
            link_on_lhs = {**link_on_lhs, "side": "right"}
            relate = {
                "name": r.relate_field,
                "type": "relate",
                "source": "non-db",
                "vname": from_l,
                "save": True,
                "id_name": r.join_key_lhs,
                "link": r.name,
                "table": self.s.table_of(r.lhs),
                "module": r.lhs,
                "rname": _rname(r.lhs, self.s),
            }
            if _is_person(r.lhs, self.s):
                relate["db_concat_fields"] = ["first_name", "last_name"]
            link2 = {
                "name": r.join_key_lhs,
                "type": "link",
                "relationship": r.name,
                "source": "non-db",
                "reportable": False,
                "side": "right",
                "vname": from_r,
            }
            out[r.rhs] = [link_on_rhs, relate, link2]
        else:
            out[r.rhs] = [link_on_rhs]
        out[r.lhs] = [link_on_lhs]
        return out

    # -- custom fields on stock modules --

    def custom_fields(self, module: str, fields: Iterable[Field]) -> None:
        for f in fields:
            ext1 = f.options or (str(f.precision) if f.type == "decimal" and f.precision is not None else "")
            self.idefs["custom_fields"].append(
                {
                    "id": f"{module}{f.name}",
                    "name": f.name,
                    "label": f.label_key,
                    "comments": "",
                    "help": f.help,
                    "module": module,
                    "type": f.type,
                    "max_size": _length(f),
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
            )
            self._label(module, f.label_key, f.label)

    # -- logic hooks --

    def _need_sidecar_url(self, what: str) -> None:
        """PackageError unless the sidecar's URL (baked into the generated PHP) was given."""
        if not self.sidecar_url:
            raise PackageError(
                f"plugin {self.s.plugin} {what}: give the sidecar's URL as SuiteCRM reaches it "
                "(package build --sidecar-url URL, or events.push.public_url in the config)"
            )

    def logic_hooks(self) -> None:
        """The push/validation hooks: PHP from the events generator (``suitecrm_ext.events.logic_hook``)."""
        if not self.s.logic_hooks:
            return
        mods = ", ".join(h.module for h in self.s.logic_hooks)
        self._need_sidecar_url(f"asks for logic hooks on {mods} ({self.s.source}: logic_hooks)")
        from suitecrm_ext.events.logic_hook import HOOK_CLASS, HOOK_FILE, render_logic_hook

        try:
            bundle = render_logic_hook(
                [h.module for h in self.s.logic_hooks if h.push],
                self.sidecar_url,
                validate_modules=[h.module for h in self.s.logic_hooks if h.validate],
                fail_modes=self.fail_modes,
                **self.timeouts,
            )
        except ValueError as exc:
            raise PackageError(f"plugin {self.s.plugin}: logic hooks on {mods}: {exc}") from None
        # One hook class per package: the generated class embeds its module lists, so packages of
        # different plugins must not share (and overwrite, or uninstall) one class file.
        pid = self.s.package.id
        cls = f"{HOOK_CLASS}_{pid}"
        target = HOOK_FILE.rsplit("/", 1)[0] + f"/{pid}/{cls}.php"
        source, n = re.subn(rf"^class {HOOK_CLASS}$", f"class {cls}", bundle.files[HOOK_FILE], flags=re.M)
        if n != 1:
            raise PackageError(f"the logic hook template no longer declares 'class {HOOK_CLASS}' once")
        src = f"SugarModules/logic_hooks/{cls}.php"
        self.files[src] = source
        self.idefs["copy"].append({"from": f"<basepath>/{src}", "to": target})
        # SuiteCRM installs a hook only when no hook of that module and event has the same description
        # (check_existing_element), so each package's hooks carry its id: equal descriptions left a
        # second package's hooks uninstalled, and uninstalling the first removed the module's hooks.
        for entry in bundle.installdefs:
            desc = f"suitecrm-ext {pid}: {entry['hook']} -> sidecar"
            self.idefs["logic_hooks"].append({**entry, "file": target, "class": cls, "description": desc})

    # -- AOW workflow actions --

    def aow_actions(self) -> None:
        """Workflow actions (``suitecrm_ext.packaging.aow``): each class into AOW's custom actions folder,
        one ``Ext/Actions`` file appending the names to the editor's list, their labels on AOW_Actions."""
        if not self.s.aow_actions:
            return
        names = ", ".join(a.name for a in self.s.aow_actions)
        self._need_sidecar_url(f"ships the workflow action(s) {names} ({self.s.source}: aow_actions)")
        from suitecrm_ext.packaging.aow import ACTION_DIR, aow_action_class, aow_list_extension

        pid = self.s.package.id
        for a in self.s.aow_actions:
            src = f"SugarModules/aow_actions/{a.class_name}.php"
            self.files[src] = aow_action_class(a, pid, self.sidecar_url)
            self.idefs["copy"].append({"from": f"<basepath>/{src}", "to": f"{ACTION_DIR}/{a.class_name}.php"})
            self._label("AOW_Actions", a.label_key, a.label)
            for q in a.params:
                self._label("AOW_Actions", a.param_label_key(q), q.label)
        # ModuleInstaller::installExt copies it to custom/Extension/modules/AOW_Actions/Ext/Actions/<id>.php
        ext = f"SugarModules/aow_actions/Ext/{pid}.php"
        self.files[ext] = aow_list_extension(self.s.aow_actions)
        self.idefs["aow_actions"] = [{"from": f"<basepath>/{ext}", "to_module": "AOW_Actions"}]

    # -- languages --

    def languages(self) -> None:
        for lang in LANGUAGES:
            app = self.ext_labels.get("application", {}).get(lang, {})
            out = PHP_HEADER + "\n"
            for key, text in app.items():
                lst, mod = key.split(".", 1)
                out += f"$app_list_strings[{php_string(lst)}][{php_string(mod)}] = {php_string(text)};\n"
            for d in self.s.dropdowns:
                out += php_assign(
                    f"$app_list_strings[{php_string(d.name)}]",
                    {k: labels.get(lang) for k, labels in d.options},
                )
            if out != PHP_HEADER + "\n":
                path = f"language/application/{lang}.lang.php"
                self.files[f"SugarModules/{path}"] = out
                self.idefs["language"].append(
                    {"from": f"{_SUGAR}/{path}", "to_module": "application", "language": lang}
                )
        for module in sorted(m for m in self.ext_labels if m != "application"):
            for lang in LANGUAGES:
                strings = self.ext_labels[module][lang]
                path = f"language/{module}/{lang}.lang.php"
                self.files[f"SugarModules/{path}"] = (
                    PHP_HEADER
                    + "\n"
                    + "".join(
                        f"$mod_strings[{php_string(k)}] = {php_string(v)};\n"
                        for k, v in sorted(strings.items())
                    )
                )
                self.idefs["language"].append(
                    {"from": f"{_SUGAR}/{path}", "to_module": module, "language": lang}
                )


# --- field definitions -----------------------------------------------------------------------------


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
        d["len"] = _length(f)
    elif f.type in ("enum", "multienum"):
        d["options"] = f.options
        d["len"] = _length(f)
        if f.type == "multienum":
            d["isMultiSelect"] = True
    elif f.type == "decimal":
        d["len"] = _length(f)
        d["precision"] = f.precision if f.precision is not None else 8
    elif f.type == "currency":
        d.update({"dbType": "decimal", "len": 26, "precision": 6})
    elif f.type == "int":
        d["len"] = _length(f)
    elif f.type == "relate":
        d.update(
            {
                "source": "non-db",
                "id_name": f.id_field,
                "ext2": f.module,
                "module": f.module,
                "rname": _rname(f.module or "", schema),
                "studio": "visible",
            }
        )
        if _is_person(f.module or "", schema):
            d["db_concat_fields"] = ["first_name", "last_name"]
    if f.default is not None:
        d["default"] = f.default
    return d


def _length(f: Field) -> int:
    if f.length is not None:
        return f.length
    return {"varchar": 255, "enum": 100, "multienum": 100, "int": 11, "decimal": 18, "currency": 26}.get(
        f.type, 0
    )


def _id_label_key(f: Field) -> str:
    return f"LBL_{(f.id_field or '').upper()}"


def _rname(module: str, schema: Schema) -> str:
    return STOCK_MODULES[module].rname if module in STOCK_MODULES else "name"


def _is_person(module: str, schema: Schema) -> bool:
    return module in STOCK_MODULES and STOCK_MODULES[module].person


def _bean_properties(m: Module) -> list[str]:
    """Bean class properties: the templates' fields, then the module's (as Module Builder lists them)."""
    names = [n for t in m.templates for n in TEMPLATE_FIELDS[t] if n != "securitygroups"]
    names += [f.name for f in m.fields]
    names += [f.id_field for f in m.fields if f.type == "relate" and f.id_field]
    if any(f.type == "currency" for f in m.fields):
        names.append("currency_id")
    return names


def _label_key_of(m: Module, name: str, schema: Schema) -> str:
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


def _layouts(m: Module, schema: Schema) -> dict[str, list[str]]:
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


# used by tests and the CLI to describe a package
def describe(pkg: Package) -> list[str]:
    """Human-readable lines: what the package adds."""
    s = pkg.schema
    lines = [f"{pkg.zip_name}: {s.package.name} {s.package.version} (id {s.package.id})"]
    for r in s.requires:
        lines.append(f"  requires {r.plugin}: package {r.package.id} {r.package.version} installed first")
    for m in s.modules:
        lines.append(f"  module {m.name} (table {m.table}, {len(m.fields)} fields, template {m.template})")
    for r in s.relationships:
        lines.append(
            f"  relationship {r.name}: {r.lhs} {'1-n' if r.type == 'one-to-many' else 'n-n'} {r.rhs}"
        )
    for mod, fields in s.custom_fields.items():
        lines.append(f"  custom fields on {mod}: {', '.join(f.name for f in fields)}")
    for d in s.dropdowns:
        lines.append(f"  dropdown {d.name} ({len(d.options)} options)")
    for h in s.logic_hooks:
        kinds = [k for k in ("push", "validate") if getattr(h, k)]
        lines.append(f"  logic hooks on {h.module}: {', '.join(kinds)}")
    for a in s.aow_actions:
        lines.append(f"  workflow action {a.name} ({a.label.en_us}): {', '.join(q.name for q in a.params)}")
    return lines
