"""Install, uninstall, scan a built package on the SuiteCRM host, as Admin -> Module Loader does.

The sidecar runs ``php install_package.php`` (next to this module) with php-cli: it boots SuiteCRM as
the system administrator and does what the Module Loader does with an uploaded zip -- SuiteCRM's
package scan (ModuleScanner; refused when ``$sugar_config['moduleInstaller']['packageScan']`` is on),
the zip kept in ``upload/upgrades/module/``, ``ModuleInstaller::install()`` (an upgrade when an older
version is installed), the ``upgrade_history`` row that Admin -> Module Loader lists and uninstalls
from -- then a Quick Repair and Rebuild that executes the SQL diff, and reports which tables exist
afterwards. Installing the same package again changes nothing.

The PHP runs as the owner of SuiteCRM's ``config.php`` (the web server user, e.g. www-data) when the
sidecar runs as root, so every file it writes belongs to that user, as after an upload through the
browser; run as another user, it runs as that user and the report warns when that is not the owner.
Before anything runs, :func:`check_suitecrm_root` and :func:`find_php` refuse a directory that is not
a SuiteCRM root and a machine without php, naming what is missing.

Uninstalling keeps the module tables and their data (as Module Loader does unless the admin asks to
remove them).
"""

from __future__ import annotations

import json
import os
import pwd
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
    "owner_of",
    "run_installer",
]

ACTIONS = ("install", "uninstall", "scan", "status")

#: Files every SuiteCRM 7 root has; the installer refuses a directory lacking any of them.
ROOT_MARKERS = (
    "config.php",
    "include/entryPoint.php",
    "ModuleInstall/ModuleInstaller.php",
    "suitecrm_version.php",
)
RESULT_MARK = "SUITECRM_EXT_RESULT "


class InstallError(Exception):
    """The package could not be installed/uninstalled; the message says why and what to do.

    ``missing_dependencies``: the required packages (ids, or "id X.Y.Z or newer") an install lacks;
    ``dependents``: installed packages (id → name) that require the package an uninstall was refused for.
    """

    def __init__(self, message: str, *, missing_dependencies: list[str] | None = None,
                 dependents: dict[str, str] | None = None):
        super().__init__(message)
        self.missing_dependencies = list(missing_dependencies or [])
        self.dependents = dict(dependents or {})


@dataclass
class InstallReport:
    """What the PHP installer reported."""

    action: str
    steps: list[str] = field(default_factory=list)
    tables: dict[str, bool] = field(default_factory=dict)
    output: str = ""
    #: ModuleScanner's findings, ``"file SugarModules/...: Invalid usage of a function exit / die"``
    issues: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: whether SuiteCRM's package scan is on (``$sugar_config['moduleInstaller']['packageScan']``)
    package_scan: bool = False
    #: the package's upgrade_history rows (Module Loader's list) after the action
    installed: list[dict[str, Any]] = field(default_factory=list)
    #: install found the very same package installed and changed nothing
    unchanged: bool = False
    #: the system user the PHP ran as
    ran_as: str = ""

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [f"{step}" for step in self.steps]
        out += [f"warning: {w}" for w in self.warnings]
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


def owner_of(root: str | Path) -> tuple[int, int]:
    """(uid, gid) owning SuiteCRM's config.php: the user the web server runs SuiteCRM as."""
    st = (Path(root) / "config.php").stat()
    return st.st_uid, st.st_gid


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def run_installer(
    zip_path: str | Path,
    root: str | Path,
    action: str = "install",
    *,
    php: str | None = None,
    tables: list[str] | None = None,
    timeout: float = 900,
) -> InstallReport:
    """Run the PHP installer on the package zip (``install``, ``uninstall``, ``scan`` or ``status``).

    Runs as the owner of ``config.php`` when called as root (see the module docstring). Raises
    InstallError with what failed (for a refused scan, every issue).
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    root_path = check_suitecrm_root(root)
    php_bin = find_php(php)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            _check_entries(zf)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InstallError(f"{zip_path}: cannot unpack the package: {exc}") from None
    uid, gid = owner_of(root_path)
    me = os.geteuid()
    run_as: dict[str, Any] = {}
    warnings = []
    if me == 0 and uid != 0:
        run_as = {"user": uid, "group": gid, "extra_groups": []}
    elif me != uid:
        warnings.append(f"running as {_user_name(me)}, but SuiteCRM's files belong to {_user_name(uid)}: "
                        "files this writes may not be writable by the web server (run it as root or "
                        f"{_user_name(uid)})")
    script = resources.files("suitecrm_ext.packaging").joinpath("install_package.php")
    with tempfile.TemporaryDirectory(prefix="suitecrm-ext-pkg-") as tmp:
        os.chmod(tmp, 0o755)  # readable by the web server user the PHP runs as
        script_path = Path(tmp) / "install_package.php"
        script_path.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
        zip_copy = Path(tmp) / Path(zip_path).name
        shutil.copyfile(zip_path, zip_copy)
        for p in (script_path, zip_copy):
            os.chmod(p, 0o644)
        cmd = [php_bin, str(script_path), str(root_path), action, str(zip_copy), *(tables or [])]
        try:
            proc = subprocess.run(cmd, cwd=root_path, capture_output=True, text=True, timeout=timeout,
                                  **run_as)
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
        issues=list(result.get("issues") or []),
        warnings=warnings + list(result.get("warnings") or []),
        package_scan=bool(result.get("package_scan")),
        installed=list(result.get("installed") or []),
        unchanged=bool(result.get("unchanged")),
        ran_as=_user_name(uid if run_as else me),
    )
    if not result.get("ok") or proc.returncode != 0:
        done = "; ".join(report.steps) or "nothing"
        raise InstallError(f"{action} failed: {result.get('error', 'unknown error')} (done before: {done})",
                           missing_dependencies=result.get("missing_dependencies") or [],
                           dependents=result.get("dependents") or {})
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


def _check_entries(zf: zipfile.ZipFile) -> None:
    """Refuse absolute paths and ``..`` in the zip (a package is data, not a path to anywhere)."""
    base = Path("/package")
    for info in zf.infolist():
        target = Path(os.path.normpath(base / info.filename))
        if info.filename.startswith("/") or not str(target).startswith(str(base) + "/"):
            raise InstallError(f"package entry {info.filename!r} points outside the package")
