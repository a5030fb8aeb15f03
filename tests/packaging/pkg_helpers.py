"""Helpers for the package builder tests (a uniquely named module: every test dir has a conftest)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import zipfile
from pathlib import Path

from suitecrm_ext.packaging.builder import package_files
from suitecrm_ext.packaging.schema import Schema

HERE = Path(__file__).parent
SMALL_SCHEMA = HERE / "fixtures" / "small_schema.yaml"
CHECKER = HERE / "php" / "check_package.php"
PUBLISHED = dt.datetime(2026, 1, 2, 3, 4, 6)  # even seconds: zip stamps have 2 s resolution
SIDECAR_URL = "http://sidecar.test:8765"


def unpack(schema: Schema, dest: Path, **options) -> Path:
    """Build the package, write the zip and extract it under ``dest``; returns the extracted dir."""
    pkg = package_files(schema, PUBLISHED, **options)
    dest.mkdir(parents=True, exist_ok=True)
    zpath = pkg.write_zip(dest / pkg.zip_name)
    out = dest / "unzipped"
    with zipfile.ZipFile(zpath) as zf:
        zf.extractall(out)
    return out


def php_check(unzipped: Path) -> dict:
    """Run tests/packaging/php/check_package.php on an unpacked package; its JSON answer."""
    proc = subprocess.run(["php", str(CHECKER), str(unzipped)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)
