"""The ``plugins.account_opening`` config section: roles, flows, the bank's numbering, notices. Every key has
a default except the bank's BIK, without which no account can be opened (``doctor`` says so)::

    plugins:
      account_opening:
        bank: {bik: "044525999", branch: "0001"}
        roles: {manager: Personal manager, security: Security officer, opening: Account-opening officer}
        polling_only: false          # true: no validation hook; forbidden changes are reverted with a Note
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.account_opening.identifiers import check_bik
from plugins.account_opening.predicates import EFFECTS, PREDICATES, TEMPLATES_FILE
from suitecrm_ext.workflow import StateMachine, TemplateError, Templates, machine_model

HERE = Path(__file__).parent
FLOW_FILE = HERE / "flow.yaml"
#: application types (ao_application_type_list in schema.yaml) and how messages name them
APPLICATION_TYPES = {"account_opening": "account opening", "card_issue": "card issue"}
APPLICATION_TYPES_RU = {"account_opening": "открытие счёта", "card_issue": "выпуск карты"}
CATEGORIES = ("commercial", "non_profit", "sole_proprietor")

FlowDef = machine_model(PREDICATES, EFFECTS)


def _default_flow_data(roles: dict[str, str] | None = None) -> dict[str, Any]:
    """flow.yaml as data, its role names replaced by the configured ones (``roles``: default -> new)."""
    data = yaml.safe_load(FLOW_FILE.read_text(encoding="utf-8"))
    rename = roles or {}
    for t in data.get("transitions", []):
        t["roles"] = [rename.get(r, r) for r in t.get("roles", [])]
    for effects in (data.get("on_enter") or {}).values():
        for e in effects:
            to = (e.get("args") or {}).get("to") or {}
            if "role" in to:
                to["role"] = rename.get(to["role"], to["role"])
    return data


def _default_flow() -> Any:
    return FlowDef.model_validate(_default_flow_data())


def _default_balance_accounts() -> dict[str, dict[str, str]]:
    # Положение Банка России 809-П: 40702 commercial, 40703 non-profit organisations, 40802 sole
    # proprietors; 40821 special accounts of payment agents and suppliers (any client)
    return {
        "settlement": {"commercial": "40702", "non_profit": "40703", "sole_proprietor": "40802"},
        "payment_agent": {"commercial": "40821", "non_profit": "40821", "sole_proprietor": "40821"},
    }


class RoleNames(BaseModel):
    """The names of the three ACL roles (``account-opening setup`` creates them; the flows name them)."""

    model_config = ConfigDict(extra="forbid")

    manager: str = Field("Personal manager", min_length=1, max_length=150)
    security: str = Field("Security officer", min_length=1, max_length=150)
    opening: str = Field("Account-opening officer", min_length=1, max_length=150)

    def names(self) -> list[str]:
        """The three names, manager first."""
        return [self.manager, self.security, self.opening]


class BankSettings(BaseModel):
    """The bank: its BIK (control keys of account numbers) and the branch part of new numbers."""

    model_config = ConfigDict(extra="forbid")

    bik: str | None = None
    branch: str = "0001"

    @field_validator("bik")
    @classmethod
    def _bik(cls, v: str | None) -> str | None:
        if v is None:
            return v
        reason = check_bik(v)
        if reason:
            raise ValueError(reason)
        return v

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        if not (v.isascii() and v.isdigit() and len(v) == 4):
            raise ValueError(f"branch {v!r}: 4 digits (positions 10-13 of the account number)")
        return v


class Settings(BaseModel):
    """Settings of the ``plugins.account_opening`` section."""

    model_config = ConfigDict(extra="forbid")

    #: the ACL roles of the flow
    roles: RoleNames = Field(default_factory=RoleNames)
    #: application type -> its flow (default: flow.yaml for both)
    flows: dict[str, FlowDef] = Field(  # type: ignore[valid-type]
        default_factory=lambda: {t: _default_flow() for t in APPLICATION_TYPES}
    )
    #: the bank whose account numbers are handed out
    bank: BankSettings = Field(default_factory=BankSettings)
    #: account type -> client category (commercial / non_profit / sole_proprietor) -> balance account
    balance_accounts: dict[str, dict[str, str]] = Field(default_factory=_default_balance_accounts)
    #: currencies an account may be opened in (numeric code as in account numbers: 810 for the rouble)
    currencies: list[str] = Field(default_factory=lambda: ["810", "840", "978", "156"])
    #: statuses in which the manager may still change the application's content (type, account, currency)
    editable_statuses: list[str] = Field(default_factory=lambda: ["draft", "returned"])
    #: no validation hook in SuiteCRM: a forbidden status change is reverted, with a Note saying why
    polling_only: bool = False
    #: the Task/e-mail texts (default: templates.yaml next to the plugin)
    templates: Path | None = None

    @field_validator("balance_accounts")
    @classmethod
    def _balances(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for account_type, by_category in v.items():
            for category, balance in by_category.items():
                if category not in CATEGORIES:
                    raise ValueError(
                        f"{account_type}.{category}: unknown client category (known: {', '.join(CATEGORIES)})"
                    )
                if not (
                    isinstance(balance, str) and balance.isascii() and balance.isdigit() and len(balance) == 5
                ):
                    raise ValueError(
                        f"{account_type}.{category}: {balance!r} is not a 5-digit balance account"
                    )
        return v

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, v: list[str]) -> list[str]:
        for c in v:
            if not (isinstance(c, str) and c.isascii() and c.isdigit() and len(c) == 3):
                raise ValueError(f"{c!r} is not a 3-digit currency code (810 for the rouble)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _default_flows_follow_renamed_roles(cls, data: Any) -> Any:
        """Without ``flows``, both types get flow.yaml with the role names of ``roles`` (renaming a role
        needs no copy of the flow)."""
        if not isinstance(data, dict) or "flows" in data or not isinstance(data.get("roles"), dict):
            return data
        defaults = RoleNames().model_dump()
        rename = {defaults[k]: v for k, v in data["roles"].items() if k in defaults and isinstance(v, str)}
        return {**data, "flows": {t: _default_flow_data(rename) for t in APPLICATION_TYPES}}

    @model_validator(mode="after")
    def _flows_fit(self) -> Settings:
        unknown = set(self.flows) - set(APPLICATION_TYPES)
        if unknown:
            raise ValueError(
                f"flows: unknown application type(s) {', '.join(sorted(unknown))} "
                f"(types: {', '.join(APPLICATION_TYPES)})"
            )
        known = {r.casefold() for r in self.roles.names()}
        for app_type, flow in self.flows.items():
            for i, t in enumerate(flow.transitions):
                for role in t.roles:
                    if role.casefold() not in known:
                        raise ValueError(
                            f"flows.{app_type}.transitions[{i}] ({t.name}): role {role!r} is not "
                            f"one of roles ({', '.join(self.roles.names())})"
                        )
        for app_type, flow in self.flows.items():
            for st in self.editable_statuses:
                if st not in flow.statuses:
                    raise ValueError(f"editable_statuses: {st!r} is not a status of flows.{app_type}")
        try:
            texts = self.texts
        except TemplateError as exc:
            raise ValueError(f"templates: {exc}") from None
        for app_type, flow in self.flows.items():
            for status, effects in flow.on_enter.items():
                for e in effects:
                    name = e.args.get("template")
                    if e.effect == "notify" and name and not texts.has(str(name)):
                        raise ValueError(
                            f"flows.{app_type}.on_enter.{status}: no template {name!r} in "
                            f"{self.templates or TEMPLATES_FILE} ({', '.join(texts.names)})"
                        )
        return self

    @cached_property
    def machines(self) -> dict[str, StateMachine]:
        """Application type -> its state machine (types without a flow use account_opening's)."""
        out = {
            t: StateMachine.from_def(f, PREDICATES, label="application status") for t, f in self.flows.items()
        }
        for t in APPLICATION_TYPES:
            out.setdefault(
                t,
                out.get("account_opening")
                or StateMachine.from_def(_default_flow(), PREDICATES, label="application status"),
            )
        return out

    @cached_property
    def texts(self) -> Templates:
        """The Task/e-mail templates."""
        return Templates.from_file(self.templates or TEMPLATES_FILE)
