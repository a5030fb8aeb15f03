"""Load a plugin's ``schema.yaml`` (text, file or parsed mapping) into a validated :class:`Schema`.

YAML is composed node by node so that every key path keeps its line: the validator's problems then
name ``file:line`` (``plugin X, schema.yaml:14: modules[0].fields[2] (status): ...``). Duplicate keys
and YAML syntax errors are reported with their lines too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from suitecrm_ext.packaging.checker import dotted
from suitecrm_ext.packaging.model import Schema, SchemaError
from suitecrm_ext.packaging.requires import SchemaCatalog, loading
from suitecrm_ext.packaging.validator import Validator

__all__ = ["load_schema", "load_schema_file"]


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
        v = Validator(plugin, source, lines, catalog, chain)
        schema = v.schema(raw)
    if v.problems:
        raise SchemaError(v.problems)
    if schema is None:  # every way to get here records a problem; never hand back nothing
        raise SchemaError([f"plugin {plugin}, {source}: package: the package section is missing or empty"])
    return schema


def _construct(node: yaml.Node, loc: tuple, lines: dict[tuple, int], dup: list) -> Any:
    """Composed YAML → Python data, recording the line of every key path (to name lines in errors)."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                dup.append((dotted(loc + (key,)), key_node.start_mark.line + 1))
            out[key] = _construct(value_node, loc + (key,), lines, dup)
            lines[loc + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loc + (i,), lines, dup) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node)  # scalars: int/bool/str/null as YAML says


_SCALARS = yaml.SafeLoader("")
#: libyaml's composer when PyYAML has it (same nodes and marks, several times faster)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

