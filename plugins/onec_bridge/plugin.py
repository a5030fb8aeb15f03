"""1C:Enterprise bridge: incoming payments into the CRM, counterparties out to 1C.

Hooks: settings (``plugins.onec_bridge``), the Payments module package (``schema.yaml``), the
``onec-import`` job, the ``onec`` CLI group, and — when ``export_counterparties`` is on — a watch on
Accounts whose changes are exported to 1C's ``Catalog_Контрагенты``. See docs/plugins/onec_bridge.md.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from suitecrm_ext import Check, Event, EventKind, JobSpec, PluginContext, WatchSpec, hookimpl


class ODataSettings(BaseModel):
    """``plugins.onec_bridge.odata``: where 1C's OData interface is and how to read it."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="OData root, e.g. https://1c.example.com/bp/odata/standard.odata")
    username: str
    password: SecretStr
    timeout: float = Field(30.0, gt=0)
    retries: int = Field(4, ge=0, le=20)
    verify_tls: bool = True
    page_size: int = Field(500, ge=1, le=5000)
    overlap_days: int = Field(14, ge=0, le=366, description="re-read this many days before the newest seen")
    initial_days: int = Field(30, ge=0, description="first run: read this many days back (or start_date)")
    start_date: dt.date | None = None
    operation_kinds: list[str] = Field(default_factory=list, description="ВидОперации values; [] = all")
    default_currency: str = "RUB"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL of 1C's OData root (…/odata/standard.odata)")
        return v.rstrip("/")


class Settings(BaseModel):
    """Settings of the ``plugins.onec_bridge`` config section."""

    model_config = ConfigDict(extra="forbid")

    schedule: str = Field("15m", description="when the onec-import job runs (interval or cron)")
    write: Literal["api", "mysql"] = Field("api", description="api: through SuiteCRM; mysql: bulk SQL")
    batch_size: int = Field(500, ge=1, le=10000)
    api_parallel: int = Field(4, ge=1, le=16, description="write: api — concurrent requests to SuiteCRM "
                              "(each its own session); 1 = one after the other")
    inn_field: str = "ao_inn_c"
    kpp_field: str = "ao_kpp_c"
    user_id: str = Field("1", description="SuiteCRM user stamped on bulk-written rows; Task fallback")
    task_user_id: str = Field("", description="who gets Tasks for unmatched payments ('' = Account owner)")
    create_tasks: bool = True
    statement_dir: str | None = Field(None, description="the job imports statement files dropped here")
    own_inn: list[str] = Field(default_factory=list, description="the organisation's own INN(s): incoming "
                               "documents from them are transfers between own accounts, not payments")
    odata: ODataSettings | None = None
    export_counterparties: bool = False

    @field_validator("own_inn", mode="before")
    @classmethod
    def _own_inn(cls, v: Any) -> Any:
        from .matching import inn_problem

        values = [v] if isinstance(v, (str, int)) else v
        if not isinstance(values, list):
            return v
        out = []
        for item in values:
            inn = str(item).strip()
            problem = inn_problem(inn)
            if problem:
                raise ValueError(problem.replace("payer INN", "INN"))
            out.append(inn)
        return out

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        from croniter import croniter

        if re.fullmatch(r"\d+[smhd]", v.strip()) or croniter.is_valid(v):
            return v.strip()
        raise ValueError("must be an interval (30s, 15m, 1h, 1d) or a 5-field cron expression")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model."""
    return Settings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """The Payments module, its dropdowns and the Accounts → Payments relationship (subpanel on Accounts)."""
    return Path(__file__).with_name("schema.yaml")


@hookimpl
def ext_jobs(settings: Any) -> list[JobSpec]:
    """``onec-import``: OData payments, statement files from ``statement_dir``, then re-matching."""
    from .service import run_job

    schedule = settings.schedule if settings is not None else "15m"
    return [JobSpec("onec-import", schedule, run_job,
                    "import incoming payments from 1C (OData, statement files) and match them to Accounts")]


@hookimpl
def ext_watch(settings: Any) -> list[WatchSpec]:
    """Accounts (name, INN, KPP) when counterparties are exported to 1C."""
    if settings is None or not settings.export_counterparties:
        return []
    return [WatchSpec("Accounts", fields=("name", settings.inn_field, settings.kpp_field),
                      kinds=frozenset({EventKind.CREATED, EventKind.UPDATED}))]


@hookimpl
def ext_on_record_change(event: Event, ctx: PluginContext) -> None:
    """Export a changed Account to 1C as a counterparty (idempotent; raises to retry on 1C faults)."""
    if not ctx.settings.export_counterparties or event.module != "Accounts":
        return
    from .service import make_exporter

    make_exporter(ctx).handle(event)


@hookimpl
def ext_doctor_checks(ctx: PluginContext) -> list[Check]:
    """What the plugin needs: its Payments module and the Accounts INN/KPP fields in SuiteCRM (the
    default ones come from account_opening's package), MySQL write rights with ``write: mysql``, 1C OData
    reachable, the statement inbox. See ``checks.py``."""
    from . import checks
    from .odata import COUNTERPARTIES_ENTITY, OneCError
    from .service import make_client

    s = ctx.settings
    out = checks.payments_module(ctx.crm) + checks.inn_kpp_fields(ctx.crm, s.inn_field, s.kpp_field)
    if s.write == "mysql":
        out += checks.mysql_writes(ctx.crm)
    if s.odata is not None:
        try:
            next(iter(make_client(ctx).list(COUNTERPARTIES_ENTITY, select=("Ref_Key",), page_size=1)), None)
            out.append(Check("onec_bridge: 1C OData", True, s.odata.url))
        except OneCError as exc:
            out.append(Check("onec_bridge: 1C OData", False, str(exc),
                             "check plugins.onec_bridge.odata (url, username, password) and that "
                             "Catalog_Контрагенты is published in 1C's OData settings"))
    if s.statement_dir:
        ok = Path(s.statement_dir).is_dir()
        out.append(Check("onec_bridge: statement_dir", ok, s.statement_dir,
                         "" if ok else "create the folder or fix plugins.onec_bridge.statement_dir"))
    return out


@hookimpl
def ext_cli_commands() -> list[Any]:
    """``suitecrm-ext onec import|rematch|export``."""
    from .cli import onec

    return [onec]


@hookimpl
def ext_demo_scenes() -> list[Any]:
    """A bank statement imported and matched by INN in ``suitecrm-ext demo``."""
    from .demo import scenes

    return scenes()
