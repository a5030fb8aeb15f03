"""A built package (:class:`Package`: its files and ``$installdefs``), written as a zip whose bytes depend
only on its inputs; its file name, its date and the lines that describe it; :class:`PackageError`."""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suitecrm_ext.packaging.model import Schema

__all__ = ["Package", "PackageError", "default_published", "describe", "zip_name"]


class PackageError(Exception):
    """The package cannot be built (e.g. a feature the schema asks for is not available)."""


@dataclass(frozen=True)
class Package:
    """A built package: its files (path in the zip → text) and the ``$installdefs`` it declares."""

    schema: Schema
    files: dict[str, str]
    installdefs: dict[str, Any]
    published: dt.datetime

    @property
    def zip_name(self) -> str:
        """``<plugin>-<version>.zip``."""
        return zip_name(self.schema)

    def write_zip(self, path: str | Path) -> Path:
        """Write the zip (sorted entries, fixed timestamps, so equal inputs give equal bytes)."""
        path = Path(path)
        stamp = self.published.timetuple()[:6]
        tmp = path.with_name(path.name + ".part")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(self.files):
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, self.files[name].encode("utf-8"))
        os.replace(tmp, path)  # never leave a half-written zip under the final name
        return path


def zip_name(schema: Schema) -> str:
    """File name of a schema's package: ``<plugin>-<version>.zip``."""
    return f"{schema.plugin}-{schema.package.version}.zip"


def default_published() -> dt.datetime:
    """Package date: ``$SOURCE_DATE_EPOCH`` when set (reproducible builds), else today 00:00 UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).replace(tzinfo=None)
    today = dt.datetime.now(dt.timezone.utc).date()
    return dt.datetime(today.year, today.month, today.day)


def describe(pkg: Package) -> list[str]:
    """Human-readable lines: what the package adds."""
    s = pkg.schema
    lines = [f"{pkg.zip_name}: {s.package.name} {s.package.version} (id {s.package.id})"]
    for r in s.requires:
        lines.append(f"  requires {r.plugin}: package {r.package.id} {r.package.version} installed first")
    for m in s.modules:
        lines.append(f"  module {m.name} (table {m.table}, {len(m.fields)} fields, template {m.template})")
    for r in s.relationships:
        lines.append(
            f"  relationship {r.name}: {r.lhs} {'1-n' if r.type == 'one-to-many' else 'n-n'} {r.rhs}"
        )
    for mod, fields in s.custom_fields.items():
        lines.append(f"  custom fields on {mod}: {', '.join(f.name for f in fields)}")
    for d in s.dropdowns:
        lines.append(f"  dropdown {d.name} ({len(d.options)} options)")
    for h in s.logic_hooks:
        kinds = [k for k in ("push", "validate") if getattr(h, k)]
        lines.append(f"  logic hooks on {h.module}: {', '.join(kinds)}")
    for a in s.aow_actions:
        lines.append(f"  workflow action {a.name} ({a.label.en_us}): {', '.join(q.name for q in a.params)}")
    return lines
