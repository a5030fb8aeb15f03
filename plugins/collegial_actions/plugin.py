"""Collegial actions on documents: voting, approval, signing, acknowledgement, deputies.

Hook implementations of the collegial_actions plugin (skeleton: the module gets its own issue).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from suitecrm_ext import hookimpl


class Settings(BaseModel):
    """Settings of the ``plugins.collegial_actions`` config section (none yet)."""

    model_config = ConfigDict(extra="forbid")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model."""
    return Settings
