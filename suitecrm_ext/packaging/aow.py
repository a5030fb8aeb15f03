"""AOW workflow actions a plugin package ships (schema key ``aow_actions``, docs/package-schema.md).

SuiteCRM's workflow module (AOW) looks an action up by name in three places, all read here from the
SuiteCRM 7.14.6 source:

- the list of actions the workflow editor offers: ``modules/AOW_Actions/actions.php`` fills
  ``$aow_actions_list[]`` with the stock four and then requires
  ``custom/modules/AOW_Actions/Ext/Actions/actions.ext.php`` — the extension ModuleInstaller builds from
  the installdefs section ``aow_actions`` (ModuleInstall/extensions.php, extdir ``Actions``). The package
  ships one file there that *appends* its names, so the stock list (and other packages') stays;
- the class: ``custom/modules/AOW_Actions/actions/action<Name>.php`` (checked before
  ``modules/AOW_Actions/actions/``, and upgrade-safe), class ``action<Name> extends actionBase`` with
  ``edit_display($line, $bean, $params)`` (the action's form in the editor; its inputs named
  ``aow_actions_param[<line>][<param>]`` are what ``AOW_Action::save_lines`` serialises) and
  ``run_action($bean, $params, $in_save)`` (true: Complete, false: Failed in Processed Flows);
- the label: ``translate('LBL_<NAME>', 'AOW_Actions')``, a language extension of AOW_Actions.

The generated ``run_action`` hands the work to the sidecar: a signed POST (Standard Webhooks, the
logic hook's scheme and secret) to ``<sidecar>/aow`` naming the action, the record, the user, the
workflow run (``AOW_Processed`` id) and the action's parameters; ``suitecrm_ext.events.aow`` receives
it and asks the plugins (hook ``ext_aow_action``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from suitecrm_ext.packaging.php import PHP_HEADER, php_string, php_value

__all__ = [
    "ACTION_DIR", "PARAM_TYPES", "AowAction", "AowParam", "aow_action_class", "aow_list_extension",
    "parse_aow_actions",
]

#: kinds of an action's parameters: a dropdown of the schema, one line, several lines
PARAM_TYPES = ("enum", "varchar", "text")
ACTION_DIR = "custom/modules/AOW_Actions/actions"
_ACTION_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,39}")
_PARAM_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: the stock actions (modules/AOW_Actions/actions.php): a package must not take their names
STOCK_ACTIONS = ("CreateRecord", "ModifyRecord", "SendEmail", "ComputeField")


@dataclass(frozen=True)
class AowParam:
    """One input of an action's form in the workflow editor."""

    name: str
    type: str
    label: Any  # Labels
    options: str = ""
    required: bool = False


@dataclass(frozen=True)
class AowAction:
    """An AOW action: ``name`` is AOW_Actions.action and the class ``action<name>``."""

    name: str
    label: Any  # Labels
    params: tuple[AowParam, ...] = ()

    @property
    def class_name(self) -> str:
        """The PHP class AOW instantiates."""
        return f"action{self.name}"

    @property
    def label_key(self) -> str:
        """The AOW_Actions language key the editor shows (``translate('LBL_<NAME>', 'AOW_Actions')``)."""
        return f"LBL_{self.name.upper()}"

    def param_label_key(self, param: AowParam) -> str:
        """The AOW_Actions language key of a parameter's label."""
        return f"LBL_{self.name.upper()}_{param.name.upper()}"


def parse_aow_actions(p: Any, raw: Any, dropdowns: set[str]) -> list[AowAction]:
    """Validate the ``aow_actions`` section with the schema parser ``p`` (problems go to ``p.err``)."""
    out: list[AowAction] = []
    seen: set[str] = set()
    for i, item in enumerate(p.seq(("aow_actions",), raw) or []):
        loc = ("aow_actions", i)
        m = p.mapping(loc, item)
        if m is None:
            continue
        name = m.get("name")
        shown = name if isinstance(name, str) else None
        p.keys(loc, m, ("name", "label", "params"), ("name", "label"), shown)
        if isinstance(name, str) and name:
            if not _ACTION_NAME.fullmatch(name):
                p.err(loc + ("name",), f"action name {name!r}: a capital letter, then letters and digits "
                                       "(up to 40; it becomes the PHP class action<Name>)", name)
            elif name in STOCK_ACTIONS:
                p.err(loc + ("name",), f"{name} is one of SuiteCRM's own actions", name)
            elif name in seen:
                p.err(loc + ("name",), f"action {name} is declared twice", name)
            seen.add(name)
        params: list[AowParam] = []
        names: set[str] = set()
        for j, praw in enumerate(p.seq(loc + ("params",), m.get("params"), shown) or []):
            ploc = loc + ("params", j)
            pm = p.mapping(ploc, praw, shown)
            if pm is None:
                continue
            pname = pm.get("name")
            p.keys(ploc, pm, ("name", "type", "label", "options", "required"), ("name", "type", "label"),
                   shown)
            if isinstance(pname, str) and pname and not _PARAM_NAME.fullmatch(pname):
                p.err(ploc + ("name",), f"parameter name {pname!r}: lower-case letters, digits and _",
                      shown)
            elif pname in names:
                p.err(ploc + ("name",), f"parameter {pname} is declared twice", shown)
            names.add(pname)
            ptype = pm.get("type")
            if ptype is not None and ptype not in PARAM_TYPES:
                p.err(ploc + ("type",), f"unknown type {ptype!r}; expected one of {', '.join(PARAM_TYPES)}",
                      shown)
            options = p.text(ploc + ("options",), pm.get("options"), shown)
            if ptype == "enum" and options not in dropdowns:
                p.err(ploc + ("options",),
                      f"an enum parameter names a list under dropdowns:, not {options!r}", shown)
            elif ptype != "enum" and options:
                p.err(ploc + ("options",), "only an enum parameter has options", shown)
            label = p.labels(ploc + ("label",), pm.get("label"), shown)
            required = p.flag(ploc + ("required",), pm.get("required"), shown)
            params.append(AowParam(str(pname or ""), str(ptype or ""), label, options, required))
        label = p.labels(loc + ("label",), m.get("label"), shown)
        out.append(AowAction(str(name or ""), label, tuple(params)))
    return out


def aow_list_extension(actions: list[AowAction] | tuple[AowAction, ...]) -> str:
    """The ``Ext/Actions`` file: appends the actions to ``$aow_actions_list`` (never replaces it)."""
    lines = [PHP_HEADER, "// Appended to SuiteCRM's workflow actions (modules/AOW_Actions/actions.php)."]
    for a in actions:
        lines.append(f"if (!in_array({php_string(a.name)}, $aow_actions_list, true)) {{")
        lines.append(f"    $aow_actions_list[] = {php_string(a.name)};")
        lines.append("}")
    return "\n".join(lines) + "\n"


def aow_action_class(action: AowAction, package_id: str, sidecar_url: str, *,
                     timeout_ms: int = 5000) -> str:
    """The PHP class of ``action`` (template ``aow_action.php.tmpl``)."""
    params = [{"name": q.name, "type": q.type, "label": action.param_label_key(q),
               "options": q.options, "required": q.required} for q in action.params]
    settings = {"url": sidecar_url.rstrip("/"), "action": action.name, "package": package_id,
                "timeout_ms": timeout_ms, "params": params}
    template = resources.files("suitecrm_ext.packaging").joinpath("aow_action.php.tmpl").read_text(
        encoding="utf-8")
    return template.replace("__CLASS__", action.class_name).replace("__SETTINGS__", php_value(settings, 1))
