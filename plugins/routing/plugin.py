"""Declarative record routing: steps, approvals, deadlines, escalation.

Hook implementations of the routing plugin (skeleton: the module gets its own issue).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from suitecrm_ext import hookimpl


class Settings(BaseModel):
    """Settings of the ``plugins.routing`` config section (none yet)."""

    model_config = ConfigDict(extra="forbid")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model."""
    return Settings
