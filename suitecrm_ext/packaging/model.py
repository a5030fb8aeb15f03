"""The validated package schema: :class:`Schema` and what it holds (modules, fields, relationships,
dropdowns, logic hooks, package info), and :class:`SchemaError`.

The package builder, the MariaDB DDL (``ddl.py``) and the FakeCRM registration (``fake.py``) all read
these, so the package, the tests' tables and the fake cannot disagree. ``loader.py`` makes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from suitecrm_ext.packaging.aow import AowAction
from suitecrm_ext.packaging.stock import STOCK_MODULES
from suitecrm_ext.packaging.vocabulary import TEMPLATES

__all__ = ["Dropdown", "Field", "Labels", "LogicHook", "Module", "PackageInfo", "Relationship", "Schema",
           "SchemaError"]


class SchemaError(ValueError):
    """The schema is invalid. ``problems`` holds one line per problem, each naming plugin, file and field."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid SuiteCRM schema:\n" + "\n".join(f"  {p}" for p in self.problems))



@dataclass(frozen=True)
class Labels:
    """One text in both languages SuiteCRM packages must ship."""

    en_us: str
    ru_ru: str

    def get(self, lang: str) -> str:
        """The text in ``lang`` (``en_us`` or ``ru_ru``)."""
        return getattr(self, lang)


@dataclass(frozen=True)
class Field:
    """A field of a new module, or a custom field on a stock module (then its name ends in ``_c``)."""

    name: str
    type: str
    label: Labels
    required: bool = False
    default: str | None = None
    length: int | None = None
    precision: int | None = None
    audited: bool = False
    options: str | None = None  # dropdown list name (enum / multienum)
    module: str | None = None  # relate: the module pointed at
    id_field: str | None = None  # relate: the stored id column
    help: str = ""

    @property
    def label_key(self) -> str:
        """The language-string key of the field label (``LBL_STATUS``)."""
        return f"LBL_{self.name.upper()}"

    @property
    def stored(self) -> bool:
        """Whether the field is a DB column (relate fields are not; their ``id_field`` is)."""
        return self.type != "relate"


@dataclass(frozen=True)
class Module:
    """A new SuiteCRM module the package adds."""

    name: str
    table: str
    singular: Labels
    plural: Labels
    template: str = "basic"
    audited: bool = False
    tab: bool = True
    importable: bool = False
    unified_search: bool = True
    fields: tuple[Field, ...] = ()
    layouts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def object_name(self) -> str:
        """Bean class / ``$dictionary`` key: Module Builder uses the module name."""
        return self.name

    @property
    def assignable(self) -> bool:
        """Has ``assigned_user_id`` (templates assignable and security_groups)."""
        return self.template in ("assignable", "security_groups")

    @property
    def templates(self) -> tuple[str, ...]:
        """SugarObject templates for ``VardefManager::createVardef``."""
        return TEMPLATES[: TEMPLATES.index(self.template) + 1]

    def field(self, name: str) -> Field | None:
        """A field of this module by name."""
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Relationship:
    """A relationship between two modules (new or stock). One-to-many: one ``lhs`` has many ``rhs``."""

    name: str
    type: str
    lhs: str
    rhs: str
    subpanels: tuple[str, ...]
    #: subpanel titles: module → title of the subpanel shown on that module (listing the other side)
    titles: Mapping[str, Labels] = field(default_factory=dict)

    @property
    def join_table(self) -> str:
        """Join table name (``<name>_c``), as Module Builder names it."""
        return f"{self.name}_c".lower()

    @property
    def join_key_lhs(self) -> str:
        """Join-table column with the lhs record id (``<name><Lhs>_ida``)."""
        return f"{self.name}{self.lhs}_ida".lower()

    @property
    def join_key_rhs(self) -> str:
        """Join-table column with the rhs record id (``<name><Rhs>_idb``)."""
        return f"{self.name}{self.rhs}_idb".lower()

    def title_key(self, on_module: str) -> str:
        """Label key of the subpanel / link shown on ``on_module`` (Module Builder's naming)."""
        other = self.rhs if on_module == self.lhs else self.lhs
        if self.lhs == self.rhs:
            other = f"{other}_R" if on_module == self.lhs else f"{other}_L"
        return f"LBL_{self.name}_FROM_{other}_TITLE".upper()

    @property
    def relate_field(self) -> str:
        """One-to-many: the relate field on the rhs module showing the lhs record (``<name>_name``)."""
        return f"{self.name}_name".lower()


@dataclass(frozen=True)
class Dropdown:
    """A dropdown list (``$app_list_strings[name]``): ordered keys with labels in both languages."""

    name: str
    options: tuple[tuple[str, Labels], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """The option keys, in order."""
        return tuple(k for k, _ in self.options)


@dataclass(frozen=True)
class LogicHook:
    """A request for generated logic hooks on a module: ``push`` (after-the-fact events to the sidecar)
    and/or ``validate`` (synchronous before_save veto)."""

    module: str
    push: bool = True
    validate: bool = False


@dataclass(frozen=True)
class PackageInfo:
    """The ``package:`` section: Module Loader id, name, version, author, description."""

    id: str
    name: str
    version: str
    author: str = ""
    description: str = ""


@dataclass(frozen=True)
class Schema:
    """A validated plugin schema."""

    plugin: str
    source: str  # file path or "<dict>", for messages
    package: PackageInfo
    modules: tuple[Module, ...] = ()
    relationships: tuple[Relationship, ...] = ()
    custom_fields: Mapping[str, tuple[Field, ...]] = field(default_factory=dict)
    dropdowns: tuple[Dropdown, ...] = ()
    logic_hooks: tuple[LogicHook, ...] = ()
    #: AOW workflow actions the package adds (``aow_actions``; suitecrm_ext/packaging/aow.py)
    aow_actions: tuple[AowAction, ...] = ()
    #: the validated schemas of the packages this one requires (``requires:``), installed first
    requires: tuple[Schema, ...] = ()

    def module(self, name: str) -> Module | None:
        """A new module of this schema by name."""
        return next((m for m in self.modules if m.name == name), None)

    def owner_of(self, module: str) -> Schema | None:
        """The schema whose package adds ``module``: this one or a required one (None: stock or unknown)."""
        if self.module(module):
            return self
        return next((r for r in self.requires if r.module(module)), None)

    def any_module(self, name: str) -> Module | None:
        """A module of this schema's package or of a required package, by name."""
        owner = self.owner_of(name)
        return owner.module(name) if owner else None

    def dropdown(self, name: str) -> Dropdown | None:
        """A dropdown list of this schema by name."""
        return next((d for d in self.dropdowns if d.name == name), None)

    @property
    def is_empty(self) -> bool:
        """True when the schema adds nothing to SuiteCRM."""
        return not (
            self.modules or self.relationships or self.custom_fields or self.dropdowns or self.logic_hooks
            or self.aow_actions
        )

    def table_of(self, module: str) -> str:
        """DB table of a new module (of this or a required package) or a stock module."""
        m = self.any_module(module)
        return m.table if m else STOCK_MODULES[module].table

    def object_of(self, module: str) -> str:
        """Bean (object) name of a new module (of this or a required package) or a stock module."""
        m = self.any_module(module)
        return m.object_name if m else STOCK_MODULES[module].object_name

    def dictionary_of(self, module: str) -> str:
        """The ``$dictionary`` key of a new module's (of this or a required package) or a stock module's
        vardefs (Cases: ``Case``; its class: aCase)."""
        m = self.any_module(module)
        return m.object_name if m else STOCK_MODULES[module].dictionary_key

    def plural_of(self, module: str) -> Labels:
        """Plural label of a new module (of this or a required package) or a stock module."""
        m = self.any_module(module)
        if m:
            return m.plural
        s = STOCK_MODULES[module]
        return Labels(s.label_en, s.label_ru)
