"""The portal SuiteCRM's package (portal_schema.yaml): push hooks that post the client's changes to the
sidecar's ``/o/portal/events``, built and installed with the core's package builder and installer."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from suitecrm_ext.packaging import build_package, load_schema_file, run_installer

from .adapter import ORIGIN

SCHEMA = Path(__file__).with_name("portal_schema.yaml")


def portal_push_url(sidecar_url: str) -> str:
    """The URL the portal's hooks post to (the hook adds ``/events``)."""
    return sidecar_url.rstrip("/") + f"/o/{ORIGIN}"


def build(out_dir: str | Path, sidecar_url: str) -> Path:
    """Build the portal package's zip in ``out_dir``."""
    schema = load_schema_file(SCHEMA, "portal_sync_portal")
    return build_package(schema, out_dir, sidecar_url=portal_push_url(sidecar_url))


def install(root: str | Path, sidecar_url: str, action: str = "install", php: str | None = None) -> Any:
    """Install (or uninstall) it in the portal SuiteCRM at ``root`` (SuiteCRM's ModuleInstaller)."""
    with tempfile.TemporaryDirectory(prefix="suitecrm-ext-portal-") as tmp:
        return run_installer(build(tmp, sidecar_url), root, action, php=php)
