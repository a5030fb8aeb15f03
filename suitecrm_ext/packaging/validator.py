"""The schema validator: the top-level walk (``package``, ``requires``, ``dropdowns``, ``logic_hooks``,
the cross-checks between sections) on top of the module and relationship checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from suitecrm_ext.packaging.aow import parse_aow_actions
from suitecrm_ext.packaging.check_modules import ModuleChecks
from suitecrm_ext.packaging.check_relationships import RelationshipChecks
from suitecrm_ext.packaging.checker import kind_of
from suitecrm_ext.packaging.model import Dropdown, LogicHook, Module, PackageInfo, Schema, SchemaError
from suitecrm_ext.packaging.stock import STOCK_MODULES
from suitecrm_ext.packaging.vocabulary import HOOK_KINDS, PACKAGE_ID_RE, VERSION_RE

__all__ = ["Validator"]


class Validator(ModuleChecks, RelationshipChecks):
    """Validates a whole schema: :meth:`schema` returns the :class:`Schema` (None when the package section
    is unusable); ``problems`` lists what was wrong."""

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
                self.err(loc, f"requires lists plugin names (text), not {kind_of(name)}")
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
        if m is None or raw is None:  # not a mapping, or missing: already reported
            return None
        self.keys(loc, m, ("id", "name", "version", "author", "description"), ("id", "name", "version"))
        pid = m.get("id")
        if pid is not None:
            self.identifier(
                loc + ("id",), pid, "package id", pattern=PACKAGE_ID_RE, limit=100, reserved=False
            )
        version = self.text(loc + ("version",), m.get("version"))
        if version and not VERSION_RE.match(version):
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

    def logic_hooks(self, raw: Any, known: set[str]) -> list[LogicHook]:
        out = []
        for i, item in enumerate(self.seq(("logic_hooks",), raw) or []):
            loc = ("logic_hooks", i)
            m = self.mapping(loc, item)
            if m is None:
                continue
            mod = m.get("module")
            self.keys(loc, m, ("module",) + HOOK_KINDS, ("module",), mod if isinstance(mod, str) else None)
            if mod is not None and not isinstance(mod, str):
                self.err(loc + ("module",), f"must be a module name (text), not {kind_of(mod)}")
                mod = None
            elif mod is not None and mod not in known:
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

