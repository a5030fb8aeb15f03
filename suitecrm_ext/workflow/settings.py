"""The ``plugins.workflow`` config section: where the core workflow services keep their data, how they talk.

The workflow services are the core's, registered as the built-in plugin ``workflow`` (see plugin.py), so
their settings are that plugin's section; every key has a default::

    plugins:
      workflow:
        language: ru_ru                 # language of notices (en_us | ru_ru)
        deputies_module: sx_Deputies    # the core package's modules
        decisions_module: sx_Decisions
        decision_links: {ao_Applications: ao_applications_decisions}   # parent module -> subpanel link
        calendar: {timezone: Europe/Moscow, hours: ["09:00", "18:00"], extra_days_off: [2026-12-30]}
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from suitecrm_ext.workflow.calendar import CalendarSettings

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: the subpanel links of the core package (schema.yaml relationships)
CORE_DECISION_LINKS = {"Documents": "sx_decisions_documents", "Cases": "sx_decisions_cases"}


class WorkflowSettings(BaseModel):
    """Settings of the core workflow services (``plugins.workflow``)."""

    model_config = ConfigDict(extra="forbid")

    #: language of Task and e-mail texts rendered from templates
    language: Literal["en_us", "ru_ru"] = "en_us"
    #: the core package's deputies module
    deputies_module: str = "sx_Deputies"
    #: the core package's decision log module
    decisions_module: str = "sx_Decisions"
    #: parent module -> link to sx_Decisions that shows the log in the parent's subpanel (added to the core
    #: package's own: Documents -> sx_decisions_documents, Cases -> sx_decisions_cases)
    decision_links: dict[str, str] = Field(default_factory=dict)
    #: working hours, holidays and transfers for deadlines
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)

    @field_validator("deputies_module", "decisions_module")
    @classmethod
    def _module(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a SuiteCRM module name")
        return v

    @field_validator("decision_links")
    @classmethod
    def _links(cls, v: dict[str, str]) -> dict[str, str]:
        for module, link in v.items():
            if not _NAME.match(module) or not _NAME.match(link):
                raise ValueError(f"{module}: {link}: module and link names are letters, digits and _")
        return v
