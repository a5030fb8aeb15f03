"""Settings of the ``plugins.portal_sync`` config section (every key is documented in
docs/plugins/portal_sync.md and config/suitecrm-ext.example.yaml)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from suitecrm_ext import SuiteCRMSettings

Owner = Literal["both", "internal", "portal"]
ConflictRule = Literal["portal_wins", "internal_wins", "internal_wins_task"]

_FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldRule(_Strict):
    """How one field is synced: who may change it and who wins when both did since the last sync.

    ``owner``: ``both`` (either side; a change on both sides since the last sync is a conflict),
    ``internal`` (only the internal CRM: a portal change is refused and undone), ``portal`` (only the
    client: an internal change is undone). ``conflict``: ``portal_wins``, ``internal_wins`` or
    ``internal_wins_task`` (internal wins and the manager gets a Task to review). ``portal_field``:
    the field's name in the portal when it differs.
    """

    owner: Owner = "both"
    conflict: ConflictRule = "internal_wins_task"
    portal_field: str | None = None

    @field_validator("portal_field")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _FIELD_RE.match(v):
            raise ValueError(f"not a SuiteCRM field name: {v!r}")
        return v


def _rules(**fields: FieldRule) -> dict[str, FieldRule]:
    return dict(fields)


_BOTH_PORTAL = FieldRule(owner="both", conflict="portal_wins")
_BOTH_TASK = FieldRule(owner="both", conflict="internal_wins_task")

DEFAULT_ACCOUNT_FIELDS = _rules(
    name=_BOTH_TASK,
    phone_office=_BOTH_PORTAL,
    phone_fax=_BOTH_PORTAL,
    website=_BOTH_PORTAL,
    email1=_BOTH_PORTAL,
    billing_address_street=_BOTH_PORTAL,
    billing_address_city=_BOTH_PORTAL,
    billing_address_state=_BOTH_PORTAL,
    billing_address_postalcode=_BOTH_PORTAL,
    billing_address_country=_BOTH_PORTAL,
    shipping_address_street=_BOTH_PORTAL,
    shipping_address_city=_BOTH_PORTAL,
    shipping_address_state=_BOTH_PORTAL,
    shipping_address_postalcode=_BOTH_PORTAL,
    shipping_address_country=_BOTH_PORTAL,
)
DEFAULT_ACCOUNT_INTERNAL_ONLY = [
    "annual_revenue",
    "rating",
    "industry",
    "account_type",
    "ownership",
    "employees",
    "description",
    "assigned_user_id",
    "parent_id",
]
DEFAULT_CONTACT_FIELDS = _rules(
    salutation=_BOTH_PORTAL,
    first_name=_BOTH_PORTAL,
    last_name=_BOTH_TASK,
    title=_BOTH_PORTAL,
    department=_BOTH_PORTAL,
    phone_work=_BOTH_PORTAL,
    phone_mobile=_BOTH_PORTAL,
    email1=_BOTH_TASK,
)
DEFAULT_CONTACT_INTERNAL_ONLY = [
    "description",
    "lead_source",
    "assigned_user_id",
    "birthdate",
    "do_not_call",
    "reports_to_id",
]
DEFAULT_CASE_FIELDS = _rules(
    name=FieldRule(owner="both", conflict="internal_wins"),
    description=FieldRule(owner="portal", conflict="portal_wins"),
    priority=FieldRule(owner="both", conflict="internal_wins"),
    type=FieldRule(owner="both", conflict="internal_wins"),
    status=FieldRule(owner="both", conflict="internal_wins"),
)
DEFAULT_CASE_INTERNAL_ONLY = ["work_log", "resolution", "assigned_user_id", "internal", "update_text"]


class ModuleRules(_Strict):
    """``organisation.Accounts`` / ``organisation.Contacts`` / ``cases``: the synced fields and the
    fields that must never leave the internal CRM (a field in both lists is a config error)."""

    fields: dict[str, FieldRule]
    internal_only: list[str] = Field(default_factory=list)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, v: dict[str, FieldRule]) -> dict[str, FieldRule]:
        bad = [n for n in v if not _FIELD_RE.match(n)]
        if bad:
            raise ValueError(f"not SuiteCRM field names: {', '.join(map(repr, bad))}")
        if not v:
            raise ValueError("at least one field must be synced")
        return v

    @model_validator(mode="after")
    def _no_leak(self) -> ModuleRules:
        leak = sorted(set(self.fields) & set(self.internal_only))
        if leak:
            raise ValueError(
                f"{', '.join(leak)}: listed as internal_only and as synced; an internal-only "
                "field never leaves the internal CRM (remove it from fields)"
            )
        portal_names = [r.portal_field or n for n, r in self.fields.items()]
        dup = sorted({n for n in portal_names if portal_names.count(n) > 1})
        if dup:
            raise ValueError(f"portal field(s) {', '.join(dup)} are the target of two synced fields")
        return self

    def portal_name(self, field: str) -> str:
        """The field's name in the portal."""
        rule = self.fields[field]
        return rule.portal_field or field


class OrganisationSettings(_Strict):
    """``organisation``: what of a client organisation is synced (Accounts and their Contacts).

    ``publish``: ``invited`` — an Account goes to the portal when one of its Contacts is invited;
    ``all`` — every internal Account (``portal resync --module Accounts`` makes the initial sync).
    """

    publish: Literal["invited", "all"] = "invited"
    Accounts: ModuleRules = Field(
        default_factory=lambda: ModuleRules(
            fields=DEFAULT_ACCOUNT_FIELDS, internal_only=DEFAULT_ACCOUNT_INTERNAL_ONLY
        )
    )
    Contacts: ModuleRules = Field(
        default_factory=lambda: ModuleRules(
            fields=DEFAULT_CONTACT_FIELDS, internal_only=DEFAULT_CONTACT_INTERNAL_ONLY
        )
    )


class CasesSettings(_Strict):
    """``cases``: client cases from the portal, staff answers and status both ways, attachments.

    ``client_statuses``: the statuses a client may set in the portal (close, reopen); any other status
    change from the portal is refused and undone. ``assigned_user_id``: who gets a new portal case
    (``""``: the Account's assigned user). ``max_attachment_bytes``: bigger files are refused.
    """

    enabled: bool = True
    rules: ModuleRules = Field(
        default_factory=lambda: ModuleRules(
            fields=DEFAULT_CASE_FIELDS, internal_only=DEFAULT_CASE_INTERNAL_ONLY
        )
    )
    client_statuses: list[str] = Field(default_factory=lambda: ["Open_New", "Closed_Closed"])
    assigned_user_id: str = ""
    attachments: bool = True
    max_attachment_bytes: int = Field(10 * 1024 * 1024, ge=1)
    portal_case_field: str = Field(
        "sxt_portal_case_c", description="internal Cases flag: came from the portal"
    )


class RegistrationSettings(_Strict):
    """``registration``: the portal login and its one-time password link.

    The link is SuiteCRM's own (``GeneratePassword`` → ``Changenewpassword``), e-mailed by the portal
    SuiteCRM through its outbound mail settings with its "forgot password" template; it is valid for
    the portal's ``passwordsetting.linkexpirationtime`` × ``linkexpirationtype`` minutes, which
    ``link_valid_minutes`` must repeat so ``portal status`` can tell an expired invitation.
    """

    link_valid_minutes: int = Field(30, ge=1)


class AccessSettings(_Strict):
    """``access``: what a portal user may see and do in the portal SuiteCRM.

    ``role``: the ACL role every portal user gets (``portal setup`` creates it and sets its levels);
    ``modules``: per module ``edit`` (view/list/edit their organisation's records), ``create_own``
    (view/list the organisation's, edit their own) or ``view``; every other module is disabled for
    the role. ``group_prefix``: the security group of an organisation is ``<prefix><Account name>``.
    """

    role: str = "Client portal user"
    group_prefix: str = "Client: "
    modules: dict[str, Literal["edit", "create_own", "view"]] = Field(
        default_factory=lambda: {
            "Accounts": "edit",
            "Contacts": "edit",
            "Cases": "edit",
            "AOP_Case_Updates": "create_own",
            "Notes": "create_own",
        }
    )


class Settings(_Strict):
    """Settings of the ``plugins.portal_sync`` config section.

    ``portal``: how to reach the portal SuiteCRM (the same keys as the top-level ``suitecrm`` section;
    ``write_via`` must be ``rest`` or ``soap``: V8 cannot create with the sidecar's ids).
    ``adapter``: ``suitecrm`` (shipped) or ``package.module:Class`` of another portal's adapter.
    ``poll_schedule``: how often the ``portal-sync`` job polls the portal (interval like ``5s``).
    ``status_field``: the internal Contact field holding invite / invited / registered / disabled.
    ``manager_user_id``: who gets conflict Tasks when the Account has no assigned user.
    """

    portal: SuiteCRMSettings | None = None
    adapter: str = "suitecrm"
    poll_schedule: str = "5s"
    overlap_seconds: int = Field(120, ge=0)
    status_field: str = "sxt_portal_status_c"
    manager_user_id: str = "1"
    max_text_length: int = Field(65535, ge=1)
    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    cases: CasesSettings = Field(default_factory=CasesSettings)
    registration: RegistrationSettings = Field(default_factory=RegistrationSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)

    @field_validator("poll_schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        if not re.fullmatch(r"\d+[smh]", v.strip()) or int(v.strip()[:-1]) == 0:
            raise ValueError("must be an interval such as 2s, 5s, 1m")
        return v.strip()

    @field_validator("adapter")
    @classmethod
    def _adapter(cls, v: str) -> str:
        if v != "suitecrm" and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v):
            raise ValueError("must be 'suitecrm' or 'package.module:ClassName'")
        return v

    @field_validator("portal")
    @classmethod
    def _portal_writes_with_ids(cls, v: SuiteCRMSettings | None) -> SuiteCRMSettings | None:
        if v is not None and v.write_via == "v8":
            raise ValueError(
                "write_via: v8 cannot create records under the sidecar's ids (no duplicates "
                "after a crash needs them); use rest (or soap)"
            )
        return v
