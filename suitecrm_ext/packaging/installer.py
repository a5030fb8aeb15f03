"""Install or uninstall a built package on the SuiteCRM host, with SuiteCRM's own ModuleInstaller.

The sidecar runs ``php install_package.php`` (next to this module) with php-cli: it boots SuiteCRM as
the system administrator, runs ``ModuleInstaller::install()`` / ``::uninstall()`` on the unzipped
package, then a Quick Repair and Rebuild that executes the SQL diff, and reports which tables exist
afterwards. Before anything runs, :func:`check_suitecrm_root` and :func:`find_php` refuse a directory
that is not a SuiteCRM root and a machine without php, naming what is missing.

Uninstalling keeps the module tables and their data (as Module Loader does unless the admin asks to
remove them).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT_MARKERS",
    "InstallError",
    "InstallReport",
    "check_suitecrm_root",
    "find_php",
    "run_installer",
]

#: Files every SuiteCRM 7 root has; the installer refuses a directory lacking any of them.
ROOT_MARKERS = (
    "config.php",
    "include/entryPoint.php",
    "ModuleInstall/ModuleInstaller.php",
    "suitecrm_version.php",
)
RESULT_MARK = "SUITECRM_EXT_RESULT "


class InstallError(Exception):
    """The package could not be installed/uninstalled; the message says why and what to do."""


@dataclass
class InstallReport:
    """What the PHP installer reported."""

    action: str
    steps: list[str] = field(default_factory=list)
    tables: dict[str, bool] = field(default_factory=dict)
    output: str = ""

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [f"{step}" for step in self.steps]
        for table, exists in sorted(self.tables.items()):
            out.append(f"table {table}: {'present' if exists else 'MISSING'}")
        return out


def check_suitecrm_root(root: str | Path) -> Path:
    """The SuiteCRM root as a Path; raises InstallError naming what is missing."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise InstallError(f"--suitecrm-root {root}: not a directory")
    missing = [m for m in ROOT_MARKERS if not (path / m).is_file()]
    if missing:
        raise InstallError(
            f"--suitecrm-root {root}: not a SuiteCRM root (missing {', '.join(missing)}); give the directory "
            "that holds SuiteCRM's config.php"
        )
    return path.resolve()


def find_php(php: str | None = None) -> str:
    """Path of the php-cli binary (``php`` on PATH unless given); raises InstallError when absent."""
    name = php or "php"
    found = shutil.which(name)
    if not found:
        raise InstallError(
            f"php-cli not found ({name!r} is not on PATH): the package is installed with SuiteCRM's own "
            "ModuleInstaller, which needs php on the SuiteCRM host (e.g. apt-get install php-cli), "
            "or pass --php"
        )
    return found


def run_installer(
    zip_path: str | Path,
    root: str | Path,
    action: str = "install",
    *,
    php: str | None = None,
    tables: list[str] | None = None,
    timeout: float = 900,
) -> InstallReport:
    """Unzip the package to a temporary directory and run the PHP installer on it. Raises InstallError."""
    if action not in ("install", "uninstall"):
        raise ValueError(f"action must be install or uninstall, not {action!r}")
    root_path = check_suitecrm_root(root)
    php_bin = find_php(php)
    script = resources.files("suitecrm_ext.packaging").joinpath("install_package.php")
    with tempfile.TemporaryDirectory(prefix="suitecrm-ext-pkg-") as tmp:
        unpacked = Path(tmp) / "package"
        try:
            with zipfile.ZipFile(zip_path) as zf:
                _safe_extract(zf, unpacked)
        except (OSError, zipfile.BadZipFile) as exc:
            raise InstallError(f"{zip_path}: cannot unpack the package: {exc}") from None
        script_path = Path(tmp) / "install_package.php"
        script_path.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
        cmd = [php_bin, str(script_path), str(root_path), action, str(unpacked), *(tables or [])]
        try:
            proc = subprocess.run(cmd, cwd=root_path, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise InstallError(f"the PHP installer did not finish within {timeout:.0f} s") from None
    result = _parse(proc.stdout)
    if result is None:
        tail = (proc.stderr or proc.stdout or "").strip()[-1500:]
        raise InstallError(f"the PHP installer failed (exit status {proc.returncode}): {tail or 'no output'}")
    report = InstallReport(
        action=action,
        steps=list(result.get("steps", [])),
        tables=dict(result.get("tables") or {}),
        output=str(result.get("output", "")),
    )
    if not result.get("ok") or proc.returncode != 0:
        done = "; ".join(report.steps) or "nothing"
        raise InstallError(f"{action} failed: {result.get('error', 'unknown error')} (done before: {done})")
    return report


def _parse(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            try:
                data = json.loads(line[len(RESULT_MARK) :])
            except json.JSONDecodeError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _safe_extract(zf: zipfile.ZipFile, dest: Path) -> None:
    """Extract refusing absolute paths and ``..`` (a package is data, not a path to anywhere)."""
    dest.mkdir(parents=True)
    base = dest.resolve()
    for info in zf.infolist():
        target = (dest / info.filename).resolve()
        if not str(target).startswith(str(base) + "/") and target != base:
            raise InstallError(f"package entry {info.filename!r} points outside the package")
    zf.extractall(dest)
