"""Env files: the secrets the YAML config references as ``${NAME}``, kept out of the YAML.

Format: one ``NAME=value`` per line (``export NAME=value`` too), ``#`` comments, values quoted the
way both a POSIX shell (``set -a; . file``) and systemd's ``EnvironmentFile=`` read them: double
quotes, with ``\\``, ``"``, ``$`` and backquote escaped. ``suitecrm-ext init`` writes one with mode
0600; the config names it with ``env_file:`` (relative to the config file), and variables already set
in the environment win over the file's.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EnvFileError(Exception):
    """The env file cannot be read or has a bad line; the message names the file and the line."""


def quote(value: str) -> str:
    """``value`` as a double-quoted string for a shell and for systemd's EnvironmentFile."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError("a value in an env file must be one line")
    return '"' + re.sub(r'([\\"$`])', r"\\\1", value) + '"'


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables of an env file. Raises EnvFileError naming the file (and line)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise EnvFileError(f"{p}: cannot read the env file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise EnvFileError(f"{p}: the env file is not UTF-8 text") from None
    env: dict[str, str] = {}
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, raw = line.partition("=")
        if not sep or not _NAME_RE.match(name):
            raise EnvFileError(f"{p}:{lineno}: expected NAME=value")
        try:
            env[name] = _value(raw.strip())
        except ValueError as exc:
            raise EnvFileError(f"{p}:{lineno}: {name}: {exc}") from None
    return env


_DQ_ESCAPES = '\\"$`'


def _value(raw: str) -> str:
    r"""One value as a POSIX shell reads it: unquoted, '...' (literal) and "..." (where \\, \", \$ and
    \` stand for the character) parts, concatenated."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "'":
            end = raw.find("'", i + 1)
            if end < 0:
                raise ValueError("no closing quotation (')")
            out.append(raw[i + 1:end])
            i = end + 1
        elif c == '"':
            i += 1
            while True:
                if i >= len(raw):
                    raise ValueError('no closing quotation (")')
                c = raw[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < len(raw) and raw[i + 1] in _DQ_ESCAPES:
                    out.append(raw[i + 1])
                    i += 2
                    continue
                out.append(c)
                i += 1
        elif c.isspace():
            raise ValueError("quote a value that contains spaces")
        elif c == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def write_env_file(path: str | os.PathLike[str], values: Mapping[str, str], *, header: str = "") -> Path:
    """Write ``values`` to ``path`` with mode 0600 (created that way, never world-readable for a moment)."""
    p = Path(path)
    for name in values:
        if not _NAME_RE.match(name):
            raise ValueError(f"not an environment variable name: {name!r}")
    lines = [f"# {h}" if h else "#" for h in header.splitlines()] if header else []
    lines += [f"{name}={quote(str(value))}" for name, value in values.items()]
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def loose_permissions(path: str | os.PathLike[str]) -> str | None:
    """A message when others than the owner may read or write the file (None when it is 0600 or stricter)."""
    try:
        mode = stat.S_IMODE(Path(path).stat().st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return (f"{path} holds secrets but has mode {mode:04o}: other users can read it "
                f"(chmod 600 {path})")
    return None
