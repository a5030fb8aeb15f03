"""Text values as a real SuiteCRM 7.14.6 keeps and shows them (verified against one, tests/live/).

**On read**, REST v4_1, SOAP and V8 all hand out string values passed through SuiteCRM's ``to_html()``
(``include/utils/db_utils.php``), which replaces exactly four characters: ``"`` → ``&quot;``, ``<`` →
``&lt;``, ``>`` → ``&gt;``, ``'`` → ``&#039;``, and leaves ``&`` alone (``AT&T`` stays ``AT&T``).
:func:`from_html` undoes exactly that, so every transport returns what the database holds (the MySQL
reader reads it directly). A generic HTML unescape would be wrong: it would also turn a stored
``&amp;`` into ``&``.

**On write**, SuiteCRM changes text before storing it (``SugarBean::cleanBean`` and the DB layer):
``name``/``varchar`` values are trimmed, HTML entities are decoded (``&amp;`` is stored as ``&``),
markup goes through HTMLPurifier (``<script>`` and unknown tags removed, unclosed tags closed), C0
control characters other than tab, LF and CR are dropped, and — because SuiteCRM talks to MySQL in
3-byte ``utf8`` — each byte of a character outside the Basic Multilingual Plane (emoji) becomes ``?``.
The last two lose data silently, so the API transports refuse such values before sending
(:func:`unstorable_fields`); the rest is SuiteCRM's documented behaviour and FakeCRM follows it. A
value longer than its field's ``len`` (varchar, name, phone, url, enum) is cut to that many characters
by the database, without an error, on every API: FakeCRM cuts it too, and the API transports log a
warning naming the field (:func:`warn_overlong`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from html.entities import name2codepoint
from typing import Any

from suitecrm_ext.crm.base import FieldInfo, ValidationError

log = logging.getLogger("suitecrm_ext.crm")

_TO_HTML_ENTITIES = ("&quot;", "&lt;", "&gt;", "&#039;")
#: characters SuiteCRM cannot store: C0 controls but tab/LF/CR (dropped by HTMLPurifier), DEL, and
#: anything outside the BMP (the 3-byte utf8 connection stores each of its bytes as '?')
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\U00010000-\U0010ffff]")


def from_html(value: Any) -> Any:
    """Undo SuiteCRM's ``to_html()`` on a string read from REST, SOAP or V8 (other values unchanged)."""
    if type(value) is str and "&" in value:
        return (value.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                .replace("&#039;", "'"))
    return value


def unstorable_reason(value: str) -> str | None:
    """Why SuiteCRM would lose part of ``value`` (None when it can store it)."""
    m = _UNSTORABLE.search(value)
    if m is None:
        return None
    ch = m.group(0)
    if ord(ch) > 0xFFFF:
        return (f"character U+{ord(ch):X} is outside the Basic Multilingual Plane (e.g. an emoji): SuiteCRM "
                "7 talks to MySQL in 3-byte utf8 and would store it as '????'")
    what = "NUL character (U+0000)" if ch == "\x00" else f"control character U+{ord(ch):04X}"
    return f"{what}: SuiteCRM's HTML cleaning drops it on save"


def unstorable_fields(values: Mapping[str, Any]) -> dict[str, str]:
    """``{field: reason}`` for the string values SuiteCRM would silently damage on save."""
    out = {}
    for name, value in values.items():
        if type(value) is str and _UNSTORABLE.search(value):
            out[name] = unstorable_reason(value) or ""
    return out


def refuse_unstorable(values: Mapping[str, Any], *, module: str, transport: str, where: str = "") -> None:
    """ValidationError naming every field whose value SuiteCRM would silently damage (nothing is sent)."""
    damaged = unstorable_fields(values)
    if damaged:
        raise ValidationError(
            f"{module}: SuiteCRM cannot store " + "; ".join(f"{k}: {r}" for k, r in damaged.items())
            + (f" ({where})" if where else ""), fields=list(damaged), transport=transport, module=module)


#: ``&name;`` / ``&#n;`` / ``&#xh;`` as PHP's html_entity_decode(ENT_HTML401) reads them (``;`` required)
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));")
_TRIMMED_TYPES = frozenset({"name", "varchar"})
_PHP_TRIM = " \t\n\r\0\x0b"


def _entity(m: re.Match[str]) -> str:
    dec, hexa, name = m.groups()
    if name is not None:
        cp = name2codepoint.get(name) if name != "apos" else 39
        return chr(cp) if cp is not None else m.group(0)
    cp = int(dec) if dec is not None else int(hexa, 16)
    return chr(cp) if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF else m.group(0)


def decode_entities(text: str) -> str:
    """HTML 4.01 entities decoded like PHP's ``html_entity_decode`` (unknown ones and ``&lt`` stay)."""
    return _ENTITY.sub(_entity, text) if "&" in text else text


def stored_text(value: str, ftype: str | None = None) -> str:
    """What SuiteCRM 7.14.6 stores when ``value`` is saved through its API into a field of ``ftype``.

    ``name``/``varchar`` values are trimmed (``SugarBean::cleanBean``) and HTML entities are decoded —
    SuiteCRM decodes up to three times (``purify_html`` twice, then ``from_html``), so ``&amp;amp;``
    is stored as ``&``. Markup is left as it is here; the real SuiteCRM also runs it through HTMLPurifier
    (FakeCRM does not emulate that: see docs/gateway.md).
    """
    if ftype in _TRIMMED_TYPES:
        value = value.strip(_PHP_TRIM)
    for _ in range(3):
        decoded = decode_entities(value)
        if decoded == value:
            break
        value = decoded
    return value


#: types kept in a column as long as the field's ``len``: a longer value is cut there without an error
#: (SuiteCRM's MySQL session is not strict; seen on 7.14.6 through REST, V8 and SOAP alike)
_CUT_TYPES = frozenset({"name", "varchar", "phone", "url", "enum"})


def column_length(info: FieldInfo | None) -> int | None:
    """How many characters the database keeps of a value of this field (None: no limit known)."""
    if info is None or not info.length or info.source == "non-db" or info.type not in _CUT_TYPES:
        return None
    return info.length


def overlong_fields(values: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> dict[str, tuple[int, int]]:
    """``{field: (characters given, characters kept)}`` for the values SuiteCRM will cut on save."""
    out = {}
    for name, value in values.items():
        if type(value) is str:
            keep = column_length(fields.get(name))
            if keep is not None and len(stored_text(value, fields[name].type)) > keep:
                out[name] = (len(value), keep)
    return out


def warn_overlong(values: Mapping[str, Any], fields: Mapping[str, FieldInfo], *, module: str,
                  transport: str, where: str = "") -> None:
    """Log a warning naming each field whose value SuiteCRM will cut to its length (the values
    themselves are not logged). The save goes on: that is SuiteCRM's own behaviour for such a value."""
    cut = overlong_fields(values, fields)
    if cut:
        what = "; ".join(f"{n} ({given} characters, the field holds {keep})" for n, (given, keep)
                         in cut.items())
        log.warning("%s %s%s: SuiteCRM keeps only the start of %s", transport, module,
                    f" ({where})" if where else "", what)


__all__ = ["column_length", "decode_entities", "from_html", "overlong_fields", "refuse_unstorable",
           "stored_text", "unstorable_fields", "unstorable_reason", "warn_overlong"]
