"""What the shipped scripts share: rendering settings, field checks at config time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from suitecrm_ext.workflow import ScriptError, ScriptRun

from ..processes import SettingProblem
from ..templating import TemplateProblem

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def render(run: ScriptRun, value: Any, what: str) -> Any:
    """A setting rendered over the record; a template error is the step's ScriptError naming ``what``."""
    try:
        return run.render(value)
    except TemplateProblem as exc:
        raise ScriptError(f"{what}: {exc}") from None


def check_fields(names: Any, where: Mapping[str, Any], setting: str, module: str | None = None) -> None:
    """Config-time: every name is a field of the module (when its fields are known offline)."""
    known = where.get("fields") if module is None else None
    if known is None:
        return
    for name in names:
        if name not in known:
            raise SettingProblem(f"unknown field {name!r} of {where.get('module')}", setting, name)


def field_names(v: Mapping[str, Any]) -> Mapping[str, Any]:
    """A pydantic validator body: keys must be field names."""
    for name in v:
        if not FIELD_NAME.match(str(name)):
            raise ValueError(f"{name!r} is not a field name")
    return v
