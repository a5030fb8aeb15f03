"""``manifest.php``: the ``$manifest`` Module Loader checks (SuiteCRM 6.5.x version, CE flavour, the
required packages as ``dependencies``) and the ``$installdefs`` ModuleInstaller runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from suitecrm_ext.packaging.model import Schema
from suitecrm_ext.packaging.php import PHP_HEADER, php_assign
from suitecrm_ext.packaging.requires import manifest_dependency

__all__ = ["ACCEPTABLE_SUGAR_VERSIONS", "INSTALLDEF_KEYS", "manifest_php"]

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



def manifest_php(schema: Schema, published: dt.datetime, installdefs: dict[str, Any]) -> str:
    """The text of ``manifest.php``: ``$manifest`` for ``schema`` published at ``published``, then
    ``installdefs``."""
    p = schema.package
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
        "published_date": published.strftime("%Y-%m-%d %H:%M:%S"),
        "type": "module",
        "version": p.version,
        "remove_tables": "prompt",
    }
    if schema.requires:
        # Module Loader refuses the package unless these are installed (UpgradeHistory::checkDependencies)
        manifest["dependencies"] = [manifest_dependency(r) for r in schema.requires]
    return (
        PHP_HEADER
        + "\n"
        + php_assign("$manifest", manifest)
        + "\n"
        + php_assign("$installdefs", installdefs)
    )
