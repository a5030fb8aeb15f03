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

This module puts the package together and is the public import path; the files are written by
:mod:`~suitecrm_ext.packaging.manifest`, :mod:`~suitecrm_ext.packaging.vardefs` (bean, vardefs, custom
fields), :mod:`~suitecrm_ext.packaging.views` (menu, language, view metadata),
:mod:`~suitecrm_ext.packaging.relationship_files` and :mod:`~suitecrm_ext.packaging.hook_files` (logic
hooks, AOW actions); :mod:`~suitecrm_ext.packaging.package` holds the built :class:`Package` and its zip.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Names beyond __all__ (ACCEPTABLE_SUGAR_VERSIONS, default_published, describe, field_vardef and the names
# this module imported) were importable from it before the split and stay so (noqa: F401, re-exports).
from suitecrm_ext.packaging.hook_files import add_aow_actions, add_logic_hooks
from suitecrm_ext.packaging.manifest import ACCEPTABLE_SUGAR_VERSIONS, INSTALLDEF_KEYS, manifest_php  # noqa: F401
from suitecrm_ext.packaging.model import Field, Labels, Module, Relationship, Schema  # noqa: F401
from suitecrm_ext.packaging.package import (  # noqa: F401
    Package,
    PackageError,
    default_published,
    describe,
    zip_name,
)
from suitecrm_ext.packaging.php import ENTRY_GUARD, PHP_HEADER, php_assign, php_string  # noqa: F401
from suitecrm_ext.packaging.relationship_files import rel_meta, rel_subpanel, rel_vardefs
from suitecrm_ext.packaging.requires import manifest_dependency  # noqa: F401
from suitecrm_ext.packaging.stock import STOCK_MODULES  # noqa: F401
from suitecrm_ext.packaging.vardefs import bean_class, custom_field_def, field_vardef, module_vardefs  # noqa: F401
from suitecrm_ext.packaging.views import (
    edit_detail,
    listviewdefs,
    menu,
    module_language,
    searchdefs,
    searchfields,
    subpanel_default,
    view_fields,
)
from suitecrm_ext.packaging.vocabulary import LANGUAGES, TEMPLATE_FIELDS  # noqa: F401

__all__ = ["INSTALLDEF_KEYS", "Package", "PackageError", "build_package", "package_files", "zip_name"]

_SUGAR = "<basepath>/SugarModules"


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
    """Collects one package's files, ``$installdefs`` and labels, section by section."""

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
        add_logic_hooks(self.s, self.files, self.idefs, self.sidecar_url, self.fail_modes, self.timeouts)
        add_aow_actions(self.s, self.files, self.idefs, self._label, self.sidecar_url)
        self.languages()
        self.files["manifest.php"] = manifest_php(self.s, self.published, self.idefs)
        return Package(schema=self.s, files=self.files, installdefs=self.idefs, published=self.published)

    # -- modules --

    def module(self, m: Module) -> None:
        base = f"SugarModules/modules/{m.name}"
        self.idefs["beans"].append(
            {"module": m.name, "class": m.name, "path": f"modules/{m.name}/{m.name}.php", "tab": m.tab}
        )
        self.idefs["copy"].append({"from": f"<basepath>/{base}", "to": f"modules/{m.name}"})
        self.files[f"{base}/{m.name}.php"] = bean_class(m)
        self.files[f"{base}/vardefs.php"] = module_vardefs(m, self.s)
        self.files[f"{base}/Menu.php"] = menu(m)
        rel_labels = self.module_rel_labels[m.name]
        for lang in LANGUAGES:
            self.files[f"{base}/language/{lang}.lang.php"] = module_language(m, lang, rel_labels)
        meta = f"{base}/metadata"
        layouts = view_fields(m, self.s)
        self.files[f"{meta}/editviewdefs.php"] = edit_detail(m, "EditView", layouts["edit"])
        self.files[f"{meta}/detailviewdefs.php"] = edit_detail(m, "DetailView", layouts["detail"])
        self.files[f"{meta}/listviewdefs.php"] = listviewdefs(m, layouts["list"], self.s)
        self.files[f"{meta}/searchdefs.php"] = searchdefs(m, layouts["search"])
        self.files[f"{meta}/SearchFields.php"] = searchfields(m, layouts["search"])
        self.files[f"{meta}/subpanels/default.php"] = subpanel_default(m)
        for lang in LANGUAGES:
            labels = self.ext_labels.setdefault("application", {}).setdefault(lang, {})
            labels[f"moduleList.{m.name}"] = m.plural.get(lang)
            labels[f"moduleListSingular.{m.name}"] = m.singular.get(lang)

    # -- relationships --

    def relationships(self) -> tuple[list[dict], list[dict]]:
        vardef_defs: list[dict] = []
        layout_defs: list[dict] = []
        for r in self.s.relationships:
            path = f"SugarModules/relationships/relationships/{r.name}MetaData.php"
            self.files[path] = (
                PHP_HEADER + "\n" + php_assign(f"$dictionary[{php_string(r.name)}]", rel_meta(r, self.s))
            )
            self.idefs["relationships"].append(
                {"meta_data": f"{_SUGAR}/relationships/relationships/{r.name}MetaData.php"}
            )
            for module, defs in rel_vardefs(r, self.s).items():
                obj = self.s.dictionary_of(module)
                fname = f"{r.name}_{module}.php"
                out = PHP_HEADER + "\n"
                for d in defs:
                    out += php_assign(f"$dictionary[{php_string(obj)}]['fields'][{php_string(d['name'])}]", d)
                self.files[f"SugarModules/relationships/vardefs/{fname}"] = out
                vardef_defs.append({"from": f"{_SUGAR}/relationships/vardefs/{fname}", "to_module": module})
            for module in r.subpanels:
                fname = f"{r.name}_{module}.php"
                sub = rel_subpanel(r, module)
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

    # -- custom fields on stock modules --

    def custom_fields(self, module: str, fields: Iterable[Field]) -> None:
        for f in fields:
            self.idefs["custom_fields"].append(custom_field_def(module, f))
            self._label(module, f.label_key, f.label)

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
