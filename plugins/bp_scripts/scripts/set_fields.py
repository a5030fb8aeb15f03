"""``set_fields``: set field values on the record (or on related records), from templates.

::

    - name: probability
      set_fields:
        fields:
          probability: {lookup: sales_stage, table: {Prospecting: 10, Qualification: 20, Closed Won: 100}}
          name: "{{ record.bp_deal_type_c | upper }} {{ fetch('Accounts', record.account_id).name }}"
          bp_delivery_date_c: "{{ today | add_working_days(2) | date('%Y-%m-%d') }}"
        target: record       # or {link: bp_subscriptions_deals} (every related record),
                             # or {field: source_deal_id, module: Opportunities}: the record in an id field

A value is a fixed value, a template, or ``{lookup: FIELD, table: {...}, default: ...}`` (the record's
value of FIELD looked up in the table; a value not in the table without a default parks the step). Every
value is rendered before anything is written, and kept: a step run again after a crash writes the same
values.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from suitecrm_ext import CRMError, NotFound
from suitecrm_ext.workflow import Script, ScriptError, ScriptResult, ScriptRun

from .common import check_fields, field_names, render


class Lookup(BaseModel):
    """A value chosen by another field's value."""

    model_config = ConfigDict(extra="forbid")

    lookup: str
    table: dict[str, str | int | float | bool | None] = Field(min_length=1)
    default: str | int | float | bool | None = None

    @field_validator("lookup")
    @classmethod
    def _name(cls, v: str) -> str:
        field_names({v: 1})
        return v


class LinkTarget(BaseModel):
    """Every record related through a link."""

    model_config = ConfigDict(extra="forbid")

    link: str


class FieldTarget(BaseModel):
    """The record whose id is in a field."""

    model_config = ConfigDict(extra="forbid")

    field: str
    module: str


class Settings(BaseModel):
    """Settings of ``set_fields``."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Lookup | str | int | float | bool | None] = Field(min_length=1, max_length=100)
    target: Literal["record"] | LinkTarget | FieldTarget = "record"

    @field_validator("fields")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        return dict(field_names(v))


def check(s: Settings, where: dict[str, Any]) -> None:
    """Field names are the module's (for the record itself), lookups read known fields."""
    if s.target == "record":
        check_fields(s.fields, where, "fields")
    check_fields([v.lookup for v in s.fields.values() if isinstance(v, Lookup)], where, "fields")
    if isinstance(s.target, FieldTarget):
        check_fields([s.target.field], where, "target")


def values_for(run: ScriptRun, fields: dict[str, Any]) -> dict[str, Any]:
    """Every value rendered (lookups resolved) — all or nothing."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, Lookup):
            key = str(run.record.get(value.lookup) or "")
            if key in value.table:
                out[name] = value.table[key]
            elif value.default is not None:
                out[name] = value.default
            else:
                raise ScriptError(
                    f"{name}: {value.lookup} is {key!r}, which the table does not list "
                    f"({', '.join(value.table)})"
                )
        else:
            out[name] = render(run, value, name)
    return out


def targets(run: ScriptRun, target: Any) -> list[tuple[str, str]]:
    """(module, id) of the records to write."""
    if target == "record":
        return [(run.module, run.record_id)]
    if isinstance(target, LinkTarget):
        try:
            return [(r.module, r.id) for r in run.crm.related(run.module, run.record_id, target.link, ["id"])]
        except CRMError as exc:
            raise ScriptError(f"target link {target.link}: {exc}") from None
    rid = str(run.record.get(target.field) or "")
    return [(target.module, rid)] if rid else []


def run(run: ScriptRun, s: Settings) -> ScriptResult:
    """Render the values once (kept in the step's memo), then write them."""
    memo = run.memo
    values = memo.get("values") if memo is not None else None
    if values is None:
        values = values_for(run, s.fields)
        if memo is not None and not run.dry_run:
            memo.add("values", values)
            values = memo.get("values")
    where = targets(run, s.target)
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
    if run.dry_run:
        return ScriptResult(f"would set {shown} on {len(where)} record(s)", {"values": values})
    for module, rid in where:
        try:
            run.crm.save(module, {"id": rid, **values})
        except NotFound:
            raise ScriptError(f"{module} {rid} does not exist") from None
    return ScriptResult(
        f"set {shown}" + (f" on {len(where)} record(s)" if s.target != "record" else ""),
        {"values": values, "records": [rid for _, rid in where]},
    )


SCRIPT = Script(
    "set_fields",
    run,
    Settings,
    summary="Set field values on the record or related records (templates, lookup tables)",
    check=check,
)
