"""YAML definition files next to the main config (routes, processes, ...): find them, read, validate.

A plugin whose admins write definitions in their own files (``config/routes/*.yaml``,
``config/processes/*.yaml``) names them in its settings as a list of files, folders or glob patterns and
hands that list to :func:`load_yaml_files`. Every file is validated with the plugin's pydantic model by
:func:`suitecrm_ext.config.load_yaml_model`; all problems of all files come back together in one
:class:`~suitecrm_ext.config.ConfigError`, each naming the file and line of the bad entry::

    config/routes/discount.yaml:12: routes[0].steps[1].assignee: required key is missing
    config/routes/none-*.yaml: no route file matches
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel

from suitecrm_ext.config import ConfigError, load_yaml_model

_PATTERN_CHARS = "*?["
_SUFFIXES = (".yaml", ".yml")


class YamlFile(NamedTuple):
    """One loaded definition file: its path as found (for messages) and its validated model."""

    path: str
    model: BaseModel


def load_yaml_files(
    sources: str | os.PathLike | Iterable[str | os.PathLike],
    model: type[BaseModel],
    *,
    what: str = "file",
    setting: str = "",
    context: Any = None,
    env: Mapping[str, str] | None = None,
) -> list[YamlFile]:
    """Read and validate every YAML definition file that ``sources`` names, in order.

    ``sources`` is a file, a folder (its ``*.yaml``/``*.yml`` files, sorted) or a glob pattern, or a list
    of those. ``what`` names a file in messages ("route file": ``X: no such route file``); ``setting``,
    when given, is added to the messages about paths (``X: no such route file (plugins.x.files)``).
    ``context`` is the pydantic validation context of ``model``. Raises ConfigError with every problem of
    every file (file:line and key of each bad entry); returns the files only when all are good.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    where = f" ({setting})" if setting else ""
    problems: list[str] = []
    loaded: list[YamlFile] = []
    for source in sources:
        for path in _paths(os.fspath(source), what, where, problems):
            try:
                loaded.append(YamlFile(path, load_yaml_model(path, model, context=context, env=env)))
            except ConfigError as exc:
                problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return loaded


def _paths(source: str, what: str, where: str, problems: list[str]) -> list[str]:
    """The files one source names; what names nothing goes to ``problems``."""
    if any(c in source for c in _PATTERN_CHARS):
        paths = sorted(p for p in glob.glob(source) if Path(p).is_file())
        if not paths:
            problems.append(f"{source}: no {what} matches{where}")
        return paths
    if Path(source).is_dir():
        paths = sorted(str(p) for p in Path(source).iterdir() if p.suffix in _SUFFIXES and p.is_file())
        if not paths:
            problems.append(f"{source}: no {what} (*.yaml) in this folder{where}")
        return paths
    if not Path(source).is_file():
        problems.append(f"{source}: no such {what}{where}")
        return []
    return [source]


__all__ = ["YamlFile", "load_yaml_files"]
