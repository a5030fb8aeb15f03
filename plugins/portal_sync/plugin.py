"""Two-way sync between the internal SuiteCRM and a client portal.

Hook implementations of the portal_sync plugin (skeleton: the module gets its own issue).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from suitecrm_ext import hookimpl


class Settings(BaseModel):
    """Settings of the ``plugins.portal_sync`` config section (none yet)."""

    model_config = ConfigDict(extra="forbid")


@hookimpl
def ext_settings_schema() -> type[BaseModel]:
    """The plugin's settings model."""
    return Settings


@hookimpl
def ext_suitecrm_artifacts() -> Path:
    """SuiteCRM-side artefacts: schema.yaml next to this file (docs/package-schema.md)."""
    return Path(__file__).with_name("schema.yaml")
