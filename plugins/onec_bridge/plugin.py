"""1C:Enterprise bridge: incoming payments into the CRM, counterparties out to 1C.

Hook implementations of the onec_bridge plugin (skeleton: the module gets its own issue).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from suitecrm_ext import hookimpl


class Settings(BaseModel):
    """Settings of the ``plugins.onec_bridge`` config section (none yet)."""

    model_config = ConfigDict(extra="forbid")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model."""
    return Settings
