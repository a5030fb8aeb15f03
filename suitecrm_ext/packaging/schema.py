"""Load and validate a plugin's declarative SuiteCRM schema (``schema.yaml``).

The format is documented in ``docs/package-schema.md``. :func:`load_schema` turns YAML text, a file
or an already-parsed dict into a :class:`Schema`; every problem found is reported at once in a
:class:`SchemaError` whose lines name the plugin, the file, the line (when the schema came from YAML)
and the field path, e.g.::

    plugin account_opening, plugins/account_opening/schema.yaml:14: modules[0].fields[2] (status):
    unknown type 'enumm'; expected one of bool, currency, date, ...

The :class:`Schema` is what the package builder, the MariaDB DDL (``ddl.py``) and the FakeCRM
registration (``fake.py``) all read, so the package, the tests' tables and the fake cannot disagree.

This module is the public import path; the code lives in:

- :mod:`~suitecrm_ext.packaging.model`: :class:`Schema` and its parts, :class:`SchemaError`;
- :mod:`~suitecrm_ext.packaging.vocabulary`: field types, templates, languages, name limits, reserved words;
- :mod:`~suitecrm_ext.packaging.loader`: :func:`load_schema` / :func:`load_schema_file` (YAML with lines);
- :mod:`~suitecrm_ext.packaging.validator` (top level, requires, dropdowns, logic hooks) on
  :mod:`~suitecrm_ext.packaging.check_modules`, :mod:`~suitecrm_ext.packaging.check_relationships` and
  :mod:`~suitecrm_ext.packaging.checker` (problem reporting and the common checks).
"""

from __future__ import annotations

# Names beyond __all__ (constants, the aow/requires/stock names) were importable from this module before
# the split and stay so (noqa: F401, re-exports).
from suitecrm_ext.packaging.aow import AowAction, parse_aow_actions  # noqa: F401
from suitecrm_ext.packaging.loader import load_schema, load_schema_file
from suitecrm_ext.packaging.model import (
    Dropdown,
    Field,
    Labels,
    LogicHook,
    Module,
    PackageInfo,
    Relationship,
    Schema,
    SchemaError,
)
from suitecrm_ext.packaging.requires import InstalledPlugins, SchemaCatalog, loading  # noqa: F401
from suitecrm_ext.packaging.stock import STOCK_MODULES  # noqa: F401
from suitecrm_ext.packaging.vocabulary import (  # noqa: F401
    DEFAULT_VARCHAR_LEN,
    FIELD_TYPES,
    HOOK_KINDS,
    LANGUAGES,
    LAYOUTS,
    MAX_DB_IDENTIFIER,
    MAX_MODULE_NAME,
    MAX_RELATIONSHIP_NAME,
    RELATIONSHIP_TYPES,
    RESERVED_WORDS,
    TEMPLATE_FIELDS,
    TEMPLATES,
)

__all__ = [
    "FIELD_TYPES",
    "Dropdown",
    "Field",
    "Labels",
    "LogicHook",
    "Module",
    "PackageInfo",
    "Relationship",
    "Schema",
    "SchemaError",
    "load_schema",
    "load_schema_file",
]
