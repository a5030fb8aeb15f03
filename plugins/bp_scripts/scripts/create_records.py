"""``create_records``: create a record (related to the process's record or not), copying chosen fields and
relationships.

::

    - name: subscription
      create_records:
        module: bp_Subscriptions
        values: {name: "Subscription {{ record.name }}", status: active}
        copy_fields: {amount: amount, start_date: bp_service_start_c, end_date: bp_service_end_c,
                      payment_form: bp_payment_form_c, assigned_user_id: assigned_user_id}
        copy_relationships:
          - {from: bp_opportunities_products, to: bp_subscriptions_products}   # the same services
          - {from: accounts, to: bp_subscriptions_accounts}                    # the same account
        link: {link: bp_subscriptions_deals, from: new}   # relate the two records (also from: record)
        inherit_groups: true                              # the record's security groups

The new record's id comes from the step's key: run again after a crash, the step finds the record it
made (``crm.create(..., id=...)``) instead of making a second one, and relating again changes nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from suitecrm_ext import CRMError, TransientError
from suitecrm_ext.workflow import Script, ScriptError, ScriptResult, ScriptRun

from .common import check_fields, field_names, render


class CopyRelationship(BaseModel):
    """Relate the new record to the records the source is related to through ``from``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str


class LinkBack(BaseModel):
    """Relate the new record and the process's record through ``link`` (a link of ``from``'s side)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    link: str
    from_: Literal["new", "record"] = Field("record", alias="from")


class Settings(BaseModel):
    """Settings of ``create_records``."""

    model_config = ConfigDict(extra="forbid")

    module: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
    values: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    #: new record's field: the process record's field (or a list: the same names)
    copy_fields: dict[str, str] | list[str] = Field(default_factory=dict)
    copy_relationships: list[CopyRelationship] = Field(default_factory=list)
    link: LinkBack | None = None
    inherit_groups: bool = False

    @field_validator("values")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        return dict(field_names(v))

    @field_validator("copy_fields")
    @classmethod
    def _copy(cls, v: Any) -> dict[str, str]:
        pairs = {n: n for n in v} if isinstance(v, list) else dict(v)
        field_names(pairs)
        field_names({s: 1 for s in pairs.values()})
        return pairs


def check(s: Settings, where: dict[str, Any]) -> None:
    """The copied fields are the process module's."""
    check_fields(list(s.copy_fields.values()), where, "copy_fields")


def run(run: ScriptRun, s: Settings) -> ScriptResult:
    """Create (or find, after a crash) the record, then its relationships."""
    values = {name: render(run, v, f"values.{name}") for name, v in s.values.items()}
    for target, source in s.copy_fields.items():
        values[target] = run.record.get(source, "")
    new_id = run.guid(f"create:{s.module}")
    copies = []
    for c in s.copy_relationships:
        try:
            ids = [r.id for r in run.crm.related(run.module, run.record_id, c.from_, ["id"])]
        except CRMError as exc:
            raise ScriptError(f"copy_relationships: {run.module}.{c.from_}: {exc}") from None
        copies.append((c, ids))
    if run.dry_run:
        rels = "; ".join(f"{c.to}: {len(ids)} record(s)" for c, ids in copies)
        return ScriptResult(
            f"would create {s.module} {values}" + (f"; relate {rels}" if rels else ""), {"values": values}
        )
    try:
        run.crm.create(s.module, values, id=new_id)
        for c, ids in copies:
            if ids:
                run.crm.relate(s.module, new_id, c.to, ids)
        if s.link is not None:
            if s.link.from_ == "new":
                run.crm.relate(s.module, new_id, s.link.link, [run.record_id])
            else:
                run.crm.relate(run.module, run.record_id, s.link.link, [new_id])
    except TransientError:
        raise
    except CRMError as exc:
        raise ScriptError(f"create {s.module}: {exc}") from None
    groups: list[str] = []
    if s.inherit_groups:
        wf = run.services.get("workflow")
        if wf is not None:
            groups = [g.name for g in wf.access.inherit_groups(s.module, new_id, run.module, run.record_id)]
    related = sum(len(ids) for _, ids in copies)
    return ScriptResult(
        f"created {s.module} {new_id}" + (f", {related} relationship(s) copied" if related else ""),
        {"id": new_id, "module": s.module, "groups": groups},
    )


SCRIPT = Script(
    "create_records",
    run,
    Settings,
    summary="Create a record, copying chosen fields and relationships from the process's record",
    check=check,
)
