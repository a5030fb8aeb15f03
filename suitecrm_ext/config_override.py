"""The sidecar's settings inside SuiteCRM: ``$sugar_config['suitecrm_ext']`` in ``config_override.php``.

The generated logic hook (events/logic_hook.py) reads the push secret from
``$sugar_config['suitecrm_ext']['secret']`` and, optionally, the sidecar URL from
``$sugar_config['suitecrm_ext']['url']``. Both live in SuiteCRM's ``config_override.php``, which
SuiteCRM itself rewrites when an admin saves System Settings (``Configurator::handleOverride`` reads
the file first and writes every key back, so ours survive).

:func:`read_settings` reads them (with php-cli, as SuiteCRM would; a plain parse of the
``$sugar_config['suitecrm_ext'][...] = '...';`` lines when php is missing). :func:`write_settings`
sets them in place: an existing line is replaced, a new one goes before the closing
``/***CONFIGURATOR***/`` marker, the result is checked with ``php -l`` and read back before it
replaces the file (atomically, with the old file's owner and mode).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from suitecrm_ext.packaging.php import php_string

OVERRIDE_FILE = "config_override.php"
CONFIG_KEY = "suitecrm_ext"
MARKER = "/***CONFIGURATOR***/"
_READ_PHP = (
    "$sugar_config = array(); include $argv[1]; "
    "echo json_encode(isset($sugar_config['suitecrm_ext']) ? $sugar_config['suitecrm_ext'] : null);"
)
_LINE_RE = re.compile(
    r"""^[ \t]*\$sugar_config\[\s*['"]suitecrm_ext['"]\s*\]\[\s*['"](?P<key>\w+)['"]\s*\]\s*=\s*"""
    r"""(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*;[ \t]*$""",
    re.M,
)


class OverrideError(Exception):
    """config_override.php cannot be read or changed; the message names the file and what to do."""


def override_path(root: str | os.PathLike[str]) -> Path:
    """``<root>/config_override.php``."""
    return Path(root) / OVERRIDE_FILE


def _php(php: str | None) -> str | None:
    return shutil.which(php or "php")


def read_settings(root: str | os.PathLike[str], php: str | None = None) -> dict[str, str]:
    """``$sugar_config['suitecrm_ext']`` as SuiteCRM sees it (empty when the file or the key is absent).

    Raises OverrideError when the file exists but cannot be read or is not valid PHP.
    """
    path = override_path(root)
    if not path.is_file():
        return {}
    php_bin = _php(php)
    if php_bin is None:
        return _parse_lines(_read_text(path))
    return read_settings_file(path, php_bin)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OverrideError(f"{path}: cannot read it: {exc}") from None


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    if literal[0] == "'":
        return re.sub(r"\\([\\'])", r"\1", body)
    return re.sub(r'\\(["\\$])', r"\1", body)


def _parse_lines(text: str) -> dict[str, str]:
    return {m.group("key"): _unquote(m.group("value")) for m in _LINE_RE.finditer(text)}


def secret_problem(root: str | os.PathLike[str], secret: str, php: str | None = None) -> str | None:
    """Why the logic hook of the SuiteCRM at ``root`` cannot sign with ``secret`` (None when it can)."""
    path = override_path(root)
    try:
        found = read_settings(root, php).get("secret", "")
    except OverrideError as exc:
        return str(exc)
    if not found:
        return (f"{path} has no $sugar_config['{CONFIG_KEY}']['secret']: the logic hook cannot sign its "
                "calls, the sidecar refuses them, and with the default fail-open every save goes through "
                "unchecked")
    if found != secret:
        return (f"$sugar_config['{CONFIG_KEY}']['secret'] in {path} differs from events.push.secret: the "
                "sidecar refuses every call of the logic hook")
    return None


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` (a config_override.php) with ``$sugar_config['suitecrm_ext'][key] = value;`` set for
    each item: existing lines replaced in place (duplicates dropped), new ones added before the
    closing ``/***CONFIGURATOR***/`` marker (or the end of the file)."""
    if not text.strip():
        text = f"<?php\n{MARKER}\n{MARKER}"
    for key, value in values.items():
        if not re.fullmatch(r"\w+", key):
            raise ValueError(f"not a config key: {key!r}")
        if "\n" in value or "\r" in value or "\0" in value:
            raise ValueError(f"{key}: a value for config_override.php must be one line")
        line = f"$sugar_config[{php_string(CONFIG_KEY)}][{php_string(key)}] = {php_string(value)};"
        matches = [m for m in _LINE_RE.finditer(text) if m.group("key") == key]
        if matches:
            for m in reversed(matches[1:]):  # a repeated line: keep the first, set to the new value
                end = m.end() + 1 if text[m.end():m.end() + 1] == "\n" else m.end()
                text = text[:m.start()] + text[end:]
            first = matches[0]
            text = text[:first.start()] + line + text[first.end():]
            continue
        stripped = text.rstrip()
        if stripped.count(MARKER) >= 2 and stripped.endswith(MARKER):
            at = stripped.rfind(MARKER)
            text = text[:at] + line + "\n" + text[at:]
        elif stripped.endswith("?>"):
            at = stripped.rfind("?>")
            text = text[:at].rstrip("\n") + "\n" + line + "\n" + text[at:]
        else:
            text = text.rstrip("\n") + "\n" + line + "\n"
    return text


def write_settings(root: str | os.PathLike[str], values: Mapping[str, str], php: str | None = None) -> Path:
    """Set ``$sugar_config['suitecrm_ext'][key]`` for each item in SuiteCRM's config_override.php.

    The new file is checked with ``php -l`` and read back (the values must be what SuiteCRM will see)
    before it atomically replaces the old one, keeping its owner and mode (a new file gets config.php's
    owner, mode 0644). Raises OverrideError naming the file; the old file is then unchanged.
    """
    root = Path(root)
    path = override_path(root)
    old = _read_text(path) if path.exists() else ""
    try:
        new = render(old, values)
    except ValueError as exc:
        raise OverrideError(f"{path}: {exc}") from None
    ref = path if path.exists() else root / "config.php"
    try:
        st = ref.stat()
    except OSError as exc:
        raise OverrideError(f"{root}: not a SuiteCRM root? cannot stat {ref}: {exc}") from None
    mode = (st.st_mode & 0o777) if path.exists() else 0o644
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".config_override.", suffix=".php", dir=root)
    except OSError as exc:
        raise OverrideError(f"cannot write in {root} (run as SuiteCRM's owner or root): {exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        os.chmod(tmp, mode)
        if hasattr(os, "chown") and os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        php_bin = _php(php)
        if php_bin is not None:
            lint = subprocess.run([php_bin, "-l", str(tmp)], capture_output=True, text=True, timeout=60)
            if lint.returncode != 0:
                raise OverrideError(f"{path}: the edited file would not be valid PHP "
                                    f"({lint.stdout.strip() or lint.stderr.strip()}); left unchanged")
            seen = read_settings_file(tmp, php_bin)
        else:
            seen = _parse_lines(new)
        wrong = [k for k, v in values.items() if seen.get(k) != v]
        if wrong:
            raise OverrideError(
                f"{path}: after the edit SuiteCRM would still not see $sugar_config['{CONFIG_KEY}'] "
                f"{', '.join(wrong)} (does the file set $sugar_config['{CONFIG_KEY}'] later as a whole?); "
                "left unchanged: set the value(s) by hand")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_settings_file(path: Path, php: str) -> dict[str, str]:
    """Like :func:`read_settings` for a file at any path (the candidate of :func:`write_settings`)."""
    proc = subprocess.run([php, "-r", _READ_PHP, "--", str(path)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise OverrideError(f"{path}: php cannot load it: {(proc.stderr or proc.stdout).strip()[-400:]}")
    out = proc.stdout.strip()
    try:
        data = json.loads(out.splitlines()[-1] if out else "null")
    except json.JSONDecodeError:
        raise OverrideError(f"{path}: unexpected output while reading it: {out[-200:]!r}") from None
    if not isinstance(data, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in data.items() if not isinstance(v, (dict, list))}
