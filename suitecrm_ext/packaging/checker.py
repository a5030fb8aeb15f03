"""The validator's base: where problems are collected (``plugin, file:line: path (name): message``) and
the checks every section uses (keys, mappings, lists, text, flags, numbers, labels, identifiers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from suitecrm_ext.packaging.model import Labels, Schema
from suitecrm_ext.packaging.requires import InstalledPlugins, SchemaCatalog
from suitecrm_ext.packaging.stock import STOCK_MODULES
from suitecrm_ext.packaging.vocabulary import FIELD_NAME_RE, LANGUAGES, MAX_DB_IDENTIFIER, RESERVED_WORDS

__all__ = ["Checker", "dotted", "kind_of"]


def dotted(loc: tuple) -> str:
    """A key path as text: ``modules[0].fields[2]`` (``(top)`` for the root)."""
    out = ""
    for part in loc:
        if isinstance(part, int) or part == "":
            out += f"[{part!r}]" if part == "" else f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top)"


class Checker:
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
        what = dotted(loc) + (f" ({name})" if name else "")
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
            self.err(loc, f"must be a mapping, not {kind_of(value)}", name)
            return None
        return value

    def seq(self, loc: tuple, value: Any, name: str | None = None) -> list | None:
        if value is None:
            return []
        if not isinstance(value, list):
            self.err(loc, f"must be a list, not {kind_of(value)}", name)
            return None
        return value

    def text(self, loc: tuple, value: Any, name: str | None = None, default: str = "") -> str:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.err(loc, f"must be text, not {kind_of(value)}", name)
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
        pattern: re.Pattern = FIELD_NAME_RE,
        limit: int = MAX_DB_IDENTIFIER,
        reserved: bool = True,
    ) -> str:
        if not isinstance(name, str) or not name:
            self.err(loc, f"{what} name is required (text)")
            return ""
        if not pattern.fullmatch(name):  # not match(): its "$" also matches before a final newline
            rule = (
                "lower-case letters, digits and _, starting with a letter"
                if pattern is FIELD_NAME_RE
                else "letters, digits and _, starting with a letter"
            )
            self.err(loc, f"{what} name {name!r} may only contain {rule}", name)
        if len(name) > limit:
            self.err(loc, f"{what} name {name!r} is {len(name)} characters; the limit is {limit}", name)
        if reserved and name.lower() in RESERVED_WORDS:
            self.err(loc, f"{what} name {name!r} is a reserved SQL word", name)
        return name

    # -- module names --

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


def kind_of(value: Any) -> str:
    """What a YAML value is, in words (``a mapping``, ``text``, ``nothing``, ...)."""
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)
