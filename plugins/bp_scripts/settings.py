"""The ``plugins.bp_scripts`` config section: where the processes are, SMS providers, webhooks, documents.

::

    plugins:
      bp_scripts:
        process_files: [config/processes/*.yaml]
        sms:
          default: smsru
          providers:
            smsru: {kind: smsru, api_id: "${SMSRU_API_ID}", sender: Shop}
            smsc: {kind: smsc, login: shop, password: "${SMSC_PASSWORD}"}
        webhooks:
          erp: {url: "https://erp.example.com/hooks/crm", secret: "${ERP_WEBHOOK_SECRET}"}
        documents_dir: config/documents
        known_fields: {Opportunities: [comdi_region_c]}   # fields made in Studio, for config checks

The process files are read and checked when the config is loaded: a bad process, step or script setting
is reported with its own file, line and key. Relative paths are taken from the working directory, as
``state.path`` is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from suitecrm_ext import STOCK_FIELDS, ConfigError, load_yaml_files

from .catalogue import Catalogue, collect
from .processes import CheckContext, ProcessDef, ProcessFile, RetryPolicy, interval_seconds
from .sms.base import ProviderSettings, provider_kinds
from .templating import TemplateEngine

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
SCHEMA_FILE = Path(__file__).with_name("schema.yaml")
#: module -> the package's link from that module to the runs module (the "Processes" subpanel)
SHIPPED_RUN_LINKS = {
    "AOS_Invoices": "bp_runs_aos_invoices",
    "Opportunities": "bp_runs_opportunities",
    "Accounts": "bp_runs_accounts",
    "Contacts": "bp_runs_contacts",
    "bp_Subscriptions": "bp_runs_subscriptions",
}


class SmsSettings(BaseModel):
    """SMS providers (sms/): one is the default of ``send_sms`` steps."""

    model_config = ConfigDict(extra="forbid")

    default: str | None = None
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    #: how often delivery statuses of sent messages are asked for (until final, for 2 days)
    status_every: str = "5m"

    @field_validator("status_every")
    @classmethod
    def _every(cls, v: str) -> str:
        interval_seconds(v)
        return v

    @model_validator(mode="after")
    def _check(self) -> SmsSettings:
        kinds = provider_kinds()
        for name, p in self.providers.items():
            if p.kind not in kinds:
                raise ValueError(
                    f"providers.{name}.kind: unknown provider kind {p.kind!r} (known: {', '.join(kinds)})"
                )
            if p.kind == "smsru" and p.api_id is None:
                raise ValueError(f"providers.{name}: SMS.ru needs api_id")
            if p.kind == "smsc" and p.apikey is None and not (p.login and p.password):
                raise ValueError(f"providers.{name}: SMSC needs login and password, or apikey")
        if self.default is not None and self.default not in self.providers:
            raise ValueError(
                f"default: {self.default!r} is not among the providers "
                f"({', '.join(self.providers) or 'none'})"
            )
        if self.default is None and len(self.providers) == 1:
            self.default = next(iter(self.providers))
        return self


class WebhookSettings(BaseModel):
    """A webhook target of ``call_webhook`` steps (its secret signs each call, Standard Webhooks)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    secret: SecretStr
    timeout: float = Field(10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v


class EmailSettings(BaseModel):
    """``send_email`` steps."""

    model_config = ConfigDict(extra="forbid")

    #: keep every sent e-mail in SuiteCRM (Emails, related to the record, attachments as its Notes)
    archive: bool = True
    #: the domain of the Message-IDs (one per step: a retry after a crash sends the same id)
    message_id_domain: str = "suitecrm-ext.local"


class Settings(BaseModel):
    """Settings of the ``plugins.bp_scripts`` section. Every key has a default."""

    model_config = ConfigDict(extra="forbid")

    #: YAML files of processes (``processes: [...]``): files, folders or glob patterns
    process_files: list[str] = Field(default_factory=list)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)
    email: EmailSettings = Field(default_factory=EmailSettings)
    #: where document templates (DOCX, HTML for PDF) of send_email steps are
    documents_dir: str = "config/documents"
    #: the plugin's module of process instances (its package, schema.yaml)
    runs_module: str = "bp_Runs"
    #: module -> link to the runs module that shows a record's processes in a subpanel
    run_links: dict[str, str] = Field(default_factory=lambda: dict(SHIPPED_RUN_LINKS))
    #: fields not known offline (made in Studio), per module, so config checks accept them
    known_fields: dict[str, list[str]] = Field(default_factory=dict)
    #: how often the job moves processes on (retries, waiting steps, scheduled triggers, SMS statuses)
    advance_every: str = "1m"
    #: how often a waiting step is looked at again without a change to its record
    recheck_every: str = "5m"
    #: the default retry policy of steps (a process or a step may set its own)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    #: the lease on one process instance while a worker moves it on (a worker killed mid-step holds it this
    #: long)
    lock_seconds: float = Field(120.0, ge=2, le=3600)

    _processes: list[ProcessDef] = PrivateAttr(default_factory=list)
    _catalogue: Catalogue | None = PrivateAttr(default=None)

    @field_validator("runs_module")
    @classmethod
    def _module(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a SuiteCRM module name")
        return v

    @field_validator("advance_every", "recheck_every")
    @classmethod
    def _every(cls, v: str) -> str:
        interval_seconds(v)
        return v

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> Settings:
        registry = (info.context or {}).get("registry") if isinstance(info.context, dict) else None
        self._catalogue = collect(registry)
        ctx = self.check_context()
        problems: list[str] = []
        processes: list[ProcessDef] = []
        seen: dict[str, str] = {}
        files = load_yaml_files(
            self.process_files,
            ProcessFile,
            what="process file",
            setting="plugins.bp_scripts.process_files",
            context={"bp": ctx},
        )
        for f in files:
            for p in f.model.processes:  # type: ignore[attr-defined]
                if p.name in seen:
                    problems.append(f"{f.path}: process {p.name!r} is defined in {seen[p.name]} too")
                    continue
                seen[p.name] = f.path
                processes.append(p)
        if problems:
            raise ConfigError(problems)
        self._processes = processes
        return self

    def check_context(self) -> CheckContext:
        """What validating a process needs: scripts, configured providers and webhooks, known fields."""
        known = {m: set(v) for m, v in self.known_fields.items()}

        def fields(module: str) -> set[str] | None:
            base = _offline_fields(module)
            if base is None and module not in known:
                return None
            return set(base or ()) | known.get(module, set())

        services = {
            "sms_providers": set(self.sms.providers),
            "sms_default": self.sms.default,
            "webhooks": set(self.webhooks),
            "documents_dir": self.documents_dir,
        }
        return CheckContext(self.catalogue, services, fields, TemplateEngine())

    @property
    def catalogue(self) -> Catalogue:
        """The scripts processes may name."""
        if self._catalogue is None:
            self._catalogue = collect(None)
        return self._catalogue

    @property
    def processes(self) -> list[ProcessDef]:
        """Every process of the process files (enabled or not)."""
        return list(self._processes)

    def process(self, name: str) -> ProcessDef | None:
        """A process by name."""
        return next((p for p in self._processes if p.name == name), None)


def _offline_fields(module: str) -> set[str] | None:
    stock = STOCK_FIELDS.get(module)
    own = _schema_fields().get(module)
    if stock is None and own is None:
        return None
    return {f.name for f in stock or ()} | (own or set())


@lru_cache(maxsize=1)
def _schema_fields() -> dict[str, set[str]]:
    """Module → field names the plugin's own package gives SuiteCRM (its modules, custom fields)."""
    data = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8")) or {}
    out: dict[str, set[str]] = {}
    base = {
        "id",
        "name",
        "date_entered",
        "date_modified",
        "modified_user_id",
        "created_by",
        "description",
        "deleted",
        "assigned_user_id",
        "assigned_user_name",
    }
    for m in data.get("modules") or []:
        out[m["name"]] = base | {f["name"] for f in m.get("fields") or []}
    for module, fields in (data.get("custom_fields") or {}).items():
        out.setdefault(module, set()).update(f["name"] for f in fields)
    for r in data.get("relationships") or []:
        if r.get("type") == "one-to-many" and r.get("rhs") in out:
            out[r["rhs"]].add(f"{r['name']}_name")
    for m in data.get("modules") or []:
        for f in m.get("fields") or []:
            if f.get("type") == "relate" and f.get("id_field"):
                out[m["name"]].add(f["id_field"])
    return out


__all__ = ["EmailSettings", "SHIPPED_RUN_LINKS", "Settings", "SmsSettings", "WebhookSettings"]
