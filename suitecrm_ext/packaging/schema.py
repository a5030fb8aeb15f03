"""Load and validate a plugin's declarative SuiteCRM schema (``schema.yaml``).

The format is documented in ``docs/package-schema.md``. :func:`load_schema` turns YAML text, a file
or an already-parsed dict into a :class:`Schema`; every problem found is reported at once in a
:class:`SchemaError` whose lines name the plugin, the file, the line (when the schema came from YAML)
and the field path, e.g.::

    plugin account_opening, plugins/account_opening/schema.yaml:14: modules[0].fields[2] (status):
    unknown type 'enumm'; expected one of bool, currency, date, ...

The :class:`Schema` is what the package builder, the MariaDB DDL (``ddl.py``) and the FakeCRM
registration (``fake.py``) all read, so the package, the tests' tables and the fake cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from suitecrm_ext.packaging.aow import AowAction, parse_aow_actions
from suitecrm_ext.packaging.requires import InstalledPlugins, SchemaCatalog, loading
from suitecrm_ext.packaging.stock import STOCK_MODULES

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

#: SuiteCRM field types a schema may use.
FIELD_TYPES = (
    "bool",
    "currency",
    "date",
    "datetime",
    "decimal",
    "enum",
    "int",
    "multienum",
    "relate",
    "text",
    "varchar",
)
TEMPLATES = ("basic", "assignable", "security_groups")
RELATIONSHIP_TYPES = ("one-to-many", "many-to-many")
LAYOUTS = ("list", "detail", "edit", "search")
LANGUAGES = ("en_us", "ru_ru")
HOOK_KINDS = ("push", "validate")

#: MySQL/MariaDB identifier limit (tables, columns, indexes).
MAX_DB_IDENTIFIER = 64
#: Longest module name: SuiteCRM stores module names in varchar(25) columns
#: (``linked_documents.parent_type``, ``folders_rel.polymorphic_module``).
MAX_MODULE_NAME = 25
#: ``relationships.relationship_name`` is varchar(150); the join-table column names (see
#: :meth:`Relationship.join_key_lhs`) are the tighter limit and are checked separately.
MAX_RELATIONSHIP_NAME = 150
#: ``varchar`` default length, as Module Builder uses.
DEFAULT_VARCHAR_LEN = 255

#: Fields SuiteCRM's templates add to every module (basic) or assignable / security-groups modules.
TEMPLATE_FIELDS = {
    "basic": (
        "id",
        "name",
        "date_entered",
        "date_modified",
        "modified_user_id",
        "modified_by_name",
        "created_by",
        "created_by_name",
        "description",
        "deleted",
        "created_by_link",
        "modified_user_link",
    ),
    "assignable": ("assigned_user_id", "assigned_user_name", "assigned_user_link"),
    "security_groups": ("securitygroups", "SecurityGroups"),
}

#: MySQL 8 / MariaDB reserved words (a column may not be named like these without quoting, and
#: SuiteCRM does not quote column names in its generated SQL).
RESERVED_WORDS = frozenset(
    """
accessible add all alter analyze and as asc asensitive before between bigint binary blob both by call
cascade case change char character check collate column condition constraint continue convert create
cross cube cume_dist current_date current_role current_time current_timestamp current_user cursor database
databases day_hour day_microsecond day_minute day_second dec decimal declare default delayed delete
dense_rank desc describe deterministic distinct distinctrow div double drop dual each else elseif empty
enclosed escaped except exists exit explain false fetch first_value float float4 float8 for force foreign
from fulltext function general generated get grant group grouping groups having high_priority
hour_microsecond hour_minute hour_second if ignore ignore_server_ids in index infile inner inout
insensitive insert int int1 int2 int3 int4 int8 integer intersect interval into io_after_gtids
io_before_gtids is iterate join json_table key keys kill lag last_value lateral lead leading leave left
like limit linear lines load localtime localtimestamp lock long longblob longtext loop low_priority
master_bind master_heartbeat_period master_ssl_verify_server_cert match maxvalue mediumblob mediumint
mediumtext middleint minute_microsecond minute_second mod modifies natural not no_write_to_binlog
nth_value ntile null numeric of offset on optimize optimizer_costs option optionally or order out outer
outfile over page_checksum parse_vcol_expr partition percent_rank precision primary procedure purge range
rank read reads read_write real recursive ref_system_id references regexp release rename repeat replace
require resignal restrict return returning revoke right rlike row row_number rows schema schemas
second_microsecond select sensitive separator set show signal slow smallint spatial specific sql
sql_big_result sql_calc_found_rows sql_small_result sqlexception sqlstate sqlwarning ssl starting
stats_auto_recalc
stats_persistent stats_sample_pages stored straight_join system table terminated then tinyblob tinyint
tinytext to trailing trigger true undo union unique unlock unsigned update usage use using utc_date
utc_time utc_timestamp values varbinary varchar varcharacter varying virtual when where while window with
write xor year_month zerofill
""".split()
)

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MODULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PACKAGE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,3}([.-][A-Za-z0-9]+)?$")


class SchemaError(ValueError):
    """The schema is invalid. ``problems`` holds one line per problem, each naming plugin, file and field."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid SuiteCRM schema:\n" + "\n".join(f"  {p}" for p in self.problems))


# --- the schema model ------------------------------------------------------------------------


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


# --- loading ---------------------------------------------------------------------------------


def load_schema_file(path: str | Path, plugin: str, *, catalog: SchemaCatalog | None = None) -> Schema:
    """Load and validate a schema file. Raises :class:`SchemaError` (also for a missing/unreadable file).

    ``catalog``: where the schemas of required packages come from (see :func:`load_schema`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(
            [f"plugin {plugin}, {path}: cannot read the schema: {exc.strerror or exc}"]
        ) from None
    except UnicodeDecodeError:
        raise SchemaError([f"plugin {plugin}, {path}: the schema is not UTF-8 text"]) from None
    return load_schema(text, plugin, source=str(path), catalog=catalog)


def load_schema(
    data: str | Mapping[str, Any],
    plugin: str,
    source: str | None = None,
    *,
    catalog: SchemaCatalog | None = None,
) -> Schema:
    """Validate a schema given as YAML text or as a parsed mapping; return the :class:`Schema`.

    ``plugin`` and ``source`` (the file name) are used in error messages. Raises :class:`SchemaError`
    listing every problem. The packages named in ``requires:`` are looked up in ``catalog``
    (default: :class:`~suitecrm_ext.packaging.requires.InstalledPlugins`, the installed plugins).
    """
    lines: dict[tuple, int] = {}
    if isinstance(data, str):
        source = source or "<text>"
        try:
            node = yaml.compose(data, Loader=_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise SchemaError([f"plugin {plugin}, {source}{where}: not valid YAML: {problem}"]) from None
        dup: list[str] = []
        raw = _construct(node, (), lines, dup) if node is not None else {}
        if dup:
            raise SchemaError([f"plugin {plugin}, {source}:{ln}: {path}: duplicate key" for path, ln in dup])
    else:
        source = source or "<dict>"
        raw = data
    with loading(plugin) as chain:
        v = _Validator(plugin, source, lines, catalog, chain)
        schema = v.schema(raw)
    if v.problems:
        raise SchemaError(v.problems)
    assert schema is not None
    return schema


def _construct(node: yaml.Node, loc: tuple, lines: dict[tuple, int], dup: list) -> Any:
    """Composed YAML → Python data, recording the line of every key path (to name lines in errors)."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                dup.append((_dotted(loc + (key,)), key_node.start_mark.line + 1))
            out[key] = _construct(value_node, loc + (key,), lines, dup)
            lines[loc + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loc + (i,), lines, dup) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node)  # scalars: int/bool/str/null as YAML says


_SCALARS = yaml.SafeLoader("")
#: libyaml's composer when PyYAML has it (same nodes and marks, several times faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int) or part == "":
            out += f"[{part!r}]" if part == "" else f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top)"


class _Validator:
    """Walks the raw data, collecting problems with their location."""

    def __init__(
        self,
        plugin: str,
        source: str,
        lines: dict[tuple, int],
        catalog: SchemaCatalog | None = None,
        chain: tuple[str, ...] = (),
    ):
        self.plugin = plugin
        self.source = source
        self.lines = lines
        self.problems: list[str] = []
        self._catalog = catalog
        self.chain = chain  # the schemas (outermost first) whose requires are loading this one
        self.required: list[Schema] = []

    @property
    def catalog(self) -> SchemaCatalog:
        if self._catalog is None:
            self._catalog = InstalledPlugins()
        return self._catalog

    # -- reporting --

    def err(self, loc: tuple, msg: str, name: str | None = None) -> None:
        line = None
        probe = loc
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        if line is None:
            line = self.lines.get(())
        where = f"{self.source}:{line}" if line is not None and self.lines else self.source
        what = _dotted(loc) + (f" ({name})" if name else "")
        self.problems.append(f"plugin {self.plugin}, {where}: {what}: {msg}")

    def keys(
        self,
        loc: tuple,
        data: Mapping,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
        name: str | None = None,
    ) -> None:
        for k in data:
            if k not in allowed:
                self.err(loc + (k,), f"unknown key; expected one of {', '.join(allowed)}", name)
        for k in required:
            if k not in data or data[k] in (None, ""):
                self.err(loc + (k,), "is required", name)

    def mapping(self, loc: tuple, value: Any, name: str | None = None) -> Mapping | None:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.err(loc, f"must be a mapping, not {_kind(value)}", name)
            return None
        return value

    def seq(self, loc: tuple, value: Any, name: str | None = None) -> list | None:
        if value is None:
            return []
        if not isinstance(value, list):
            self.err(loc, f"must be a list, not {_kind(value)}", name)
            return None
        return value

    def text(self, loc: tuple, value: Any, name: str | None = None, default: str = "") -> str:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.err(loc, f"must be text, not {_kind(value)}", name)
            return default
        return str(value)

    def flag(self, loc: tuple, value: Any, name: str | None = None, default: bool = False) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.err(loc, f"must be true or false, not {value!r}", name)
            return default
        return value

    def number(self, loc: tuple, value: Any, lo: int, hi: int, name: str | None = None) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.err(loc, f"must be a whole number from {lo} to {hi}, not {value!r}", name)
            return None
        return value

    def labels(self, loc: tuple, value: Any, name: str | None = None) -> Labels:
        m = self.mapping(loc, value, name)
        if m is None:
            return Labels("", "")
        if not m:
            self.err(loc, "is required: a text per language (en_us, ru_ru)", name)
            return Labels("", "")
        self.keys(loc, m, LANGUAGES, (), name)
        for lang in LANGUAGES:
            if lang not in m or m[lang] is None:
                self.err(loc + (lang,), "is required (every label is given in en_us and ru_ru)", name)
        return Labels(
            self.text(loc + ("en_us",), m.get("en_us"), name),
            self.text(loc + ("ru_ru",), m.get("ru_ru"), name),
        )

    def identifier(
        self,
        loc: tuple,
        name: Any,
        what: str,
        *,
        pattern: re.Pattern = _FIELD_NAME,
        limit: int = MAX_DB_IDENTIFIER,
        reserved: bool = True,
    ) -> str:
        if not isinstance(name, str) or not name:
            self.err(loc, f"{what} name is required (text)")
            return ""
        if not pattern.fullmatch(name):  # not match(): its "$" also matches before a final newline
            rule = (
                "lower-case letters, digits and _, starting with a letter"
                if pattern is _FIELD_NAME
                else "letters, digits and _, starting with a letter"
            )
            self.err(loc, f"{what} name {name!r} may only contain {rule}", name)
        if len(name) > limit:
            self.err(loc, f"{what} name {name!r} is {len(name)} characters; the limit is {limit}", name)
        if reserved and name.lower() in RESERVED_WORDS:
            self.err(loc, f"{what} name {name!r} is a reserved SQL word", name)
        return name

    # -- sections --

    def schema(self, raw: Any) -> Schema | None:
        top = self.mapping((), raw)
        if top is None:
            return None
        self.keys(
            (),
            top,
            (
                "package",
                "requires",
                "modules",
                "relationships",
                "custom_fields",
                "dropdowns",
                "logic_hooks",
                "aow_actions",
                "scheduler_jobs",
            ),
            ("package",),
        )
        package = self.package(top.get("package"))
        self.required = self.requires(top.get("requires"))
        dropdowns = self.dropdowns(top.get("dropdowns"))
        dd_names = {d.name for d in dropdowns}
        dd_by_name = {d.name: d for d in dropdowns}
        modules = self.modules(top.get("modules"), dd_names)
        self.check_against_required(modules, top.get("relationships"))
        own = {m.name for m in modules}
        known = set(STOCK_MODULES) | own | {m.name for r in self.required for m in r.modules}
        for mi, m in enumerate(modules):
            for fi, f in enumerate(m.fields):
                if f.type == "relate" and f.module and f.module not in known:
                    self.err(
                        ("modules", mi, "fields", fi, "module"),
                        f"relate field points to {self.unknown_module(f.module)}",
                        f.name,
                    )
        relationships = self.relationships(top.get("relationships"), known, modules)
        custom = self.custom_fields(top.get("custom_fields"), dd_names, own)
        for mi, m in enumerate(modules):
            for fi, f in enumerate(m.fields):
                self.check_enum_default(("modules", mi, "fields", fi), f, dd_by_name)
        for mod, fields in custom.items():
            for fi, f in enumerate(fields):
                self.check_enum_default(("custom_fields", mod, fi), f, dd_by_name)
        hooks = self.logic_hooks(top.get("logic_hooks"), known)
        aow_actions = parse_aow_actions(self, top.get("aow_actions"), dd_names)
        jobs = self.seq(("scheduler_jobs",), top.get("scheduler_jobs"))
        if jobs:
            self.err(
                ("scheduler_jobs",),
                "SuiteCRM scheduler jobs are not supported: declare jobs with the "
                "ext_jobs hook; the sidecar runs them",
            )
        self.layouts_check(modules, relationships)
        if package is None:
            return None
        return Schema(
            plugin=self.plugin,
            source=self.source,
            package=package,
            modules=tuple(modules),
            relationships=tuple(relationships),
            custom_fields=custom,
            dropdowns=tuple(dropdowns),
            logic_hooks=tuple(hooks),
            aow_actions=tuple(aow_actions),
            requires=tuple(self.required),
        )

    def requires(self, raw: Any) -> list[Schema]:
        """The required packages' schemas (``requires: [plugin, ...]``), each validated."""
        out: list[Schema] = []
        seen: dict[str, int] = {}
        for i, name in enumerate(self.seq(("requires",), raw) or []):
            loc = ("requires", i)
            if not isinstance(name, str) or not name:
                self.err(loc, f"requires lists plugin names (text), not {_kind(name)}")
                continue
            if name == self.plugin:
                self.err(loc, "a schema cannot require its own package", name)
                continue
            if name in seen:
                self.err(loc, f"duplicate (also requires[{seen[name]}])", name)
                continue
            seen[name] = i
            if name in self.chain:
                cycle = " -> ".join(self.chain[self.chain.index(name):] + (self.plugin, name))
                self.err(loc, f"requires form a cycle ({cycle})", name)
                continue
            try:
                req = self.catalog.schema(name)
            except LookupError as exc:
                self.err(loc, f"unknown required package: {exc}", name)
                continue
            except SchemaError as exc:
                more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
                self.err(
                    loc, f"the schema of required plugin {name} is invalid: {exc.problems[0]}{more}", name
                )
                continue
            if req is None or req.is_empty:
                self.err(loc, f"plugin {name} adds nothing to SuiteCRM: it has no package to require", name)
                continue
            out.append(req)
        return out

    def unknown_module(self, mod: Any) -> str:
        """"unknown module 'X'; expected ..." with a hint when X is a module of a package not required."""
        required = ", ".join(f"{r.plugin}: {', '.join(m.name for m in r.modules)}" for r in self.required)
        msg = (
            f"unknown module {mod!r}; expected a module of this schema, "
            + (f"of a required package ({required}) " if required else "")
            + f"or a stock module ({', '.join(sorted(STOCK_MODULES))})"
        )
        owner = self.owner_elsewhere(mod)
        if owner is not None:
            msg += (
                f"; {mod} is a module of plugin {owner.plugin}'s package ({owner.package.id}): "
                f"add `requires: [{owner.plugin}]` to use it"
            )
        return msg

    def owner_elsewhere(self, mod: Any) -> Schema | None:
        """An installed plugin's schema (not required by this one) that adds ``mod``, for hints."""
        if not isinstance(mod, str):
            return None
        try:
            names = self.catalog.names()
        except Exception:  # noqa: BLE001 - only a hint: a catalog that cannot list gives none
            return None
        for name in names:
            if name == self.plugin or name in self.chain or any(r.plugin == name for r in self.required):
                continue
            try:
                other = self.catalog.schema(name)
            except Exception:  # noqa: BLE001 - a broken other plugin must not hide this schema's error
                continue
            if other is not None and other.module(mod):
                return other
        return None

    def check_against_required(self, modules: list[Module], rels_raw: Any) -> None:
        """A module or relationship of this schema must not take a name a required package uses."""
        for i, m in enumerate(modules):
            for req in self.required:
                theirs = req.module(m.name)
                if theirs is not None:
                    self.err(
                        ("modules", i, "name"),
                        f"{m.name} is a module of the required package {req.package.id} "
                        f"(plugin {req.plugin})",
                        m.name,
                    )
                elif any(t.table == m.table for t in req.modules):
                    self.err(
                        ("modules", i, "table"),
                        f"table {m.table!r} belongs to a module of the required package {req.package.id}",
                        m.name,
                    )
        if not isinstance(rels_raw, list):
            return
        taken = {r.name: req for req in self.required for r in req.relationships}
        for i, item in enumerate(rels_raw):
            name = item.get("name") if isinstance(item, Mapping) else None
            if isinstance(name, str) and name in taken:
                self.err(
                    ("relationships", i, "name"),
                    f"relationship {name!r} is already one of the required package {taken[name].package.id}",
                    name,
                )

    def package(self, raw: Any) -> PackageInfo | None:
        loc = ("package",)
        m = self.mapping(loc, raw)
        if m is None or not m:
            return None
        self.keys(loc, m, ("id", "name", "version", "author", "description"), ("id", "name", "version"))
        pid = m.get("id")
        if pid is not None:
            self.identifier(loc + ("id",), pid, "package id", pattern=_PACKAGE_ID, limit=100, reserved=False)
        version = self.text(loc + ("version",), m.get("version"))
        if version and not _VERSION.match(version):
            self.err(loc + ("version",), f"version {version!r} must look like 1.2.3")
        return PackageInfo(
            id=str(pid or ""),
            name=self.text(loc + ("name",), m.get("name")),
            version=version,
            author=self.text(loc + ("author",), m.get("author")),
            description=self.text(loc + ("description",), m.get("description")),
        )

    def dropdowns(self, raw: Any) -> list[Dropdown]:
        m = self.mapping(("dropdowns",), raw)
        out: list[Dropdown] = []
        for name, opts in (m or {}).items():
            loc = ("dropdowns", name)
            self.identifier(loc, name, "dropdown", limit=100, reserved=False)
            om = self.mapping(loc, opts, name)
            if om is None:
                continue
            if not om:
                self.err(loc, "a dropdown list needs at least one option", name)
            options = []
            for key, labels in om.items():
                if not isinstance(key, (str, int)) or isinstance(key, bool) or len(str(key)) > 100:
                    self.err(loc + (key,), "option keys must be text of at most 100 characters", name)
                    continue
                options.append((str(key), self.labels(loc + (key,), labels, f"{name}.{key}")))
            out.append(Dropdown(name=str(name), options=tuple(options)))
        return out

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
            self.err(loc + ("default",), f"default must be a single value, not {_kind(default)}", label)
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
            self.identifier(loc + ("name",), name, "module", pattern=_MODULE_NAME, limit=MAX_MODULE_NAME)
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
                        self.err(loc + (view, j), f"layout entries are field names, not {_kind(n)}", module)
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

    def relationships(self, raw: Any, known: set[str], modules: list[Module]) -> list[Relationship]:
        items = self.seq(("relationships",), raw)
        out: list[Relationship] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(items or []):
            loc = ("relationships", i)
            m = self.mapping(loc, item)
            if m is None:
                continue
            name = m.get("name")
            label = name if isinstance(name, str) else None
            self.keys(
                loc,
                m,
                ("name", "type", "lhs", "rhs", "subpanels", "titles"),
                ("name", "type", "lhs", "rhs"),
                label,
            )
            self.identifier(loc + ("name",), name, "relationship", limit=MAX_RELATIONSHIP_NAME)
            if isinstance(name, str):
                if name in seen:
                    self.err(
                        loc + ("name",),
                        f"duplicate relationship name (also relationships[{seen[name]}])",
                        label,
                    )
                seen[name] = i
            rtype = m.get("type")
            if rtype is not None and rtype not in RELATIONSHIP_TYPES:
                self.err(
                    loc + ("type",),
                    f"unknown relationship type {rtype!r}; expected one of {', '.join(RELATIONSHIP_TYPES)}",
                    label,
                )
            sides = {}
            for side in ("lhs", "rhs"):
                mod = m.get(side)
                if mod is not None and mod not in known:
                    self.err(loc + (side,), self.unknown_module(mod), label)
                sides[side] = mod if isinstance(mod, str) else ""
            if sides["lhs"] and sides["lhs"] == sides["rhs"]:
                self.err(loc + ("rhs",), "relationships of a module with itself are not supported", label)
            default_subpanels = [sides["lhs"]] if rtype == "one-to-many" else [sides["lhs"], sides["rhs"]]
            subpanels_raw = m.get("subpanels", default_subpanels)
            subpanels = []
            for j, s in enumerate(self.seq(loc + ("subpanels",), subpanels_raw, label) or []):
                if s not in (sides["lhs"], sides["rhs"]):
                    self.err(
                        loc + ("subpanels", j),
                        f"subpanel on {s!r}: must be lhs ({sides['lhs']}) or rhs "
                        f"({sides['rhs']}) of the relationship",
                        label,
                    )
                elif rtype == "one-to-many" and s == sides["rhs"]:
                    self.err(
                        loc + ("subpanels", j),
                        f"a one-to-many relationship shows its subpanel on the lhs "
                        f"(the one side, {sides['lhs']}); {s} gets a relate field instead",
                        label,
                    )
                else:
                    subpanels.append(s)
            titles = {}
            tm = self.mapping(loc + ("titles",), m.get("titles"), label) or {}
            for mod_name, t in tm.items():
                if mod_name not in (sides["lhs"], sides["rhs"]):
                    self.err(loc + ("titles", mod_name), "titles are keyed by the lhs or rhs module", label)
                    continue
                titles[mod_name] = self.labels(loc + ("titles", mod_name), t, label)
            rel = Relationship(
                name=str(name or ""),
                type=str(rtype or ""),
                lhs=sides["lhs"],
                rhs=sides["rhs"],
                subpanels=tuple(subpanels),
                titles=titles,
            )
            if isinstance(name, str) and sides["lhs"] and sides["rhs"]:
                for col in (
                    rel.join_table,
                    rel.join_key_lhs,
                    rel.join_key_rhs,
                    f"{name.lower()}_alt",
                    f"{name.lower()}_ida1",
                ):
                    if len(col) > MAX_DB_IDENTIFIER:
                        self.err(
                            loc + ("name",),
                            f"relationship name too long: it makes the DB name {col!r} "
                            f"({len(col)} characters; MySQL allows {MAX_DB_IDENTIFIER})",
                            label,
                        )
                        break
            if rtype == "one-to-many" and sides["rhs"]:
                target = next((mm for mm in modules if mm.name == sides["rhs"]), None)
                for req in self.required if target is None else ():
                    target = target or req.module(sides["rhs"])
                if target and target.field(rel.relate_field):
                    self.err(
                        loc + ("name",),
                        f"the relate field {rel.relate_field!r} this relationship adds to "
                        f"{sides['rhs']} clashes with a field of that module",
                        label,
                    )
            out.append(rel)
        return out

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

    def logic_hooks(self, raw: Any, known: set[str]) -> list[LogicHook]:
        out = []
        for i, item in enumerate(self.seq(("logic_hooks",), raw) or []):
            loc = ("logic_hooks", i)
            m = self.mapping(loc, item)
            if m is None:
                continue
            mod = m.get("module")
            self.keys(loc, m, ("module",) + HOOK_KINDS, ("module",), mod if isinstance(mod, str) else None)
            if mod is not None and mod not in known:
                self.err(loc + ("module",), self.unknown_module(mod))
            hook = LogicHook(
                module=str(mod or ""),
                push=self.flag(loc + ("push",), m.get("push"), default=True),
                validate=self.flag(loc + ("validate",), m.get("validate")),
            )
            if not (hook.push or hook.validate):
                self.err(loc, "asks for no hook: set push and/or validate to true", hook.module)
            out.append(hook)
        return out


def _kind(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)
