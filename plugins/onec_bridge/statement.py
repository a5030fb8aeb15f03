"""A strict parser of 1CClientBankExchange bank-statement files (format versions 1.01–1.03).

The format (1C's "standard of exchange with client-bank systems") is a text file of ``key=value`` lines::

    1CClientBankExchange
    ВерсияФормата=1.03
    Кодировка=Windows            (Windows = windows-1251, DOS = cp866; UTF-8 also accepted)
    Отправитель=... Получатель=... ДатаСоздания=dd.mm.yyyy ВремяСоздания=hh:mm:ss
    ДатаНачала=... ДатаКонца=... РасчСчет=<20 digits> (repeatable) Документ=<kind> (repeatable)
    СекцияРасчСчет ... КонецРасчСчет                  (balances per account; optional, repeatable)
    СекцияДокумент=Платежное поручение ... КонецДокумента   (one per document)
    КонецФайла

The physical encoding is found by decoding the start of the file as UTF-8, windows-1251 and cp866 and
seeing in which one the ``Кодировка=`` line reads. The declared value is 1C's ``Windows`` or ``DOS``, or
any spelling Python's codec registry knows for windows-1251, cp866 or UTF-8 (``windows-1251``,
``cp1251``, ``1251``, ``ibm866``, ``utf8``, ...; banks write all of them): the bytes decide anyway, and
:attr:`Statement.encoding_note` says when a spelling other than the standard's was met. A file whose
Cyrillic was destroyed by a wrong conversion (replacement characters ``U+FFFD``, ``?`` in place of
letters, bytes that are text in no known encoding) is refused naming the first bad line.
Any problem raises :class:`StatementError` with the line number and what is wrong; nothing is returned
for a file with an error, so a malformed file imports nothing.

Direction: a document is **incoming** when its ``ПолучательСчет`` is one of the file's own accounts
(header or ``СекцияРасчСчет`` ``РасчСчет``), **outgoing** when its ``ПлательщикСчет`` is; otherwise a
set ``ДатаПоступило`` means incoming and anything else outgoing. Outgoing documents are skipped (counted).

Transfers between the organisation's own accounts are neither: a document whose payer and receiver
accounts are both the file's own, whose payer INN equals the receiver's INN, or — incoming — whose
payer INN is one of the organisation's own INNs (``own_inns``, from the plugin's ``own_inn`` setting)
is skipped and counted in :attr:`Statement.transfers`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gc
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

from .payment import Payment, file_payment_key, payment_identity

HEADER = "1CClientBankExchange"
FORMAT_VERSIONS = ("1.00", "1.01", "1.02", "1.03")
#: 1C's own names in Кодировка= -> Python codec (other spellings: see :func:`codec_for`)
ENCODINGS = {"windows": "cp1251", "dos": "cp866", "utf-8": "utf-8", "utf8": "utf-8"}
#: the codecs a statement may be in -> how messages name them, and the standard's spelling
CODEC_NAMES = {"cp1251": "windows-1251", "cp866": "cp866 (DOS)", "utf-8": "UTF-8"}
STANDARD_SPELLING = {"cp1251": "Windows", "cp866": "DOS", "utf-8": "UTF-8"}
_KNOWN_SPELLINGS = "windows-1251, cp1251, 1251, cp866, ibm866, utf-8, utf8"
#: a key as 1C writes them (letters, digits); anything else in a key means destroyed text
_KEY_CHARS_RE = re.compile(r"^[0-9A-Za-zА-Яа-яЁё]+$")
_KEY_PREFIX = "Кодировка="
_AMOUNT_RE = re.compile(r"^\d{1,15}(\.\d{1,2})?$")
_DATE_RE = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")
_PAYER_NAME_INN_RE = re.compile(r"^ИНН\s*\d{10,12}\s+")
_MARKERS = ("КонецФайла", "КонецДокумента", "КонецРасчСчет", "СекцияРасчСчет")

#: keys of the account section
ACCOUNT_SECTION_KEYS = {"ДатаНачала", "ДатаКонца", "РасчСчет", "НачальныйОстаток", "ВсегоПоступило",
                        "ВсегоСписано", "КонечныйОстаток"}


class StatementError(ValueError):
    """The file is not a valid 1CClientBankExchange statement. ``line`` is 1-based (0: whole file)."""

    def __init__(self, message: str, line: int = 0, source: str = ""):
        self.line = line
        self.source = source
        self.reason = message
        where = f"{source or 'statement'}" + (f", line {line}" if line else "")
        super().__init__(f"{where}: {message}")


@dataclass
class Statement:
    """A parsed statement: header values, own accounts, incoming payments and skip counts."""

    version: str
    encoding: str
    header: dict[str, str]
    accounts: list[str]
    payments: list[Payment]
    documents: int = 0
    outgoing: int = 0
    transfers: int = 0
    balances: list[dict[str, str]] = field(default_factory=list)
    declared_encoding: str = ""  # the Кодировка= value as written in the file

    @property
    def encoding_note(self) -> str:
        """How the file was read when ``Кодировка=`` is not the standard's ``Windows`` / ``DOS`` / ``UTF-8``
        (another spelling, or a declaration the bytes contradict); "" otherwise."""
        declared = self.declared_encoding
        read_as = CODEC_NAMES.get(self.encoding, self.encoding)
        if not declared:
            return ""
        if codec_for(declared) != self.encoding:
            return f"Кодировка={declared}, but the bytes are {read_as}: read as {read_as}"
        standard = STANDARD_SPELLING[self.encoding]
        if declared.lower() == standard.lower():
            return ""
        return f"Кодировка={declared} (the standard spells it {standard}) accepted: read as {read_as}"


def codec_for(declared: str) -> str | None:
    """The codec a ``Кодировка=`` value names: 1C's ``Windows`` / ``DOS``, or any spelling Python's codec
    registry has for windows-1251, cp866 or UTF-8 (``windows-1251``, ``CP1251``, ``1251``, ``ibm866``,
    ``utf8``, ``UTF-8`` with or without BOM); ``win-1251`` / ``cp-1251`` too. None for anything else."""
    name = declared.strip().lower()
    if name in ENCODINGS:
        return ENCODINGS[name]
    tries = [name, name.replace("-", "").replace("_", "")]
    if name.startswith("win") and not name.startswith("windows"):
        tries.append("windows-" + name[3:].lstrip("-_"))
    for candidate in tries:
        try:
            codec = codecs.lookup(candidate).name
        except LookupError:
            continue
        codec = "utf-8" if codec == "utf-8-sig" else codec
        return codec if codec in CODEC_NAMES else None
    return None


def unreadable(line: str) -> str:
    """Why a decoded line shows text destroyed by a wrong conversion ("" when it looks fine)."""
    if "\ufffd" in line:
        return "replacement characters (U+FFFD) where letters were"
    key = line.partition("=")[0].strip()
    if "?" in key:
        return "'?' in place of letters"
    if key and not _KEY_CHARS_RE.match(key):
        return "characters no key of the format has"
    return ""


def detect_encoding(data: bytes, source: str = "") -> str:
    """The Python codec of a statement file, from where its ``Кодировка=`` line reads.

    Raises StatementError when no ``Кодировка=`` line is found, or its value is not a known encoding.
    """
    return read_encoding(data, source)[0]


def read_encoding(data: bytes, source: str = "") -> tuple[str, str]:
    """``(codec, declared spelling)`` of a statement file; see :func:`detect_encoding`."""
    head = data[:8192]
    for codec in ("utf-8", "cp1251", "cp866"):
        text = head.decode(codec, errors="replace")
        for lineno, line in enumerate(text.splitlines()[:40], start=1):
            line = line.lstrip("\ufeff").strip()
            if line.startswith(_KEY_PREFIX):
                declared = line[len(_KEY_PREFIX):].strip()
                known = codec_for(declared)
                if known is None:
                    raise StatementError(
                        f"unknown encoding {declared!r} in Кодировка= (expected Windows, DOS or UTF-8, or "
                        f"a spelling of them: {_KNOWN_SPELLINGS})", lineno, source)
                if codec == "utf-8" or codec == known:
                    # A file re-saved as UTF-8 keeps its old header line; its bytes decide.
                    return codec, declared
                raise StatementError(
                    f"Кодировка={declared} but the file's bytes are {codec} (a re-encoded file?)",
                    lineno, source)
    if not head.lstrip(b"\xef\xbb\xbf").startswith(HEADER.encode()):
        raise StatementError(f"not a 1CClientBankExchange file: the first line must be {HEADER!r}", 1, source)
    raise _destroyed(head, source) or StatementError(
        "header has no Кодировка= line (Windows, DOS or UTF-8)", 0, source)


def _destroyed(head: bytes, source: str) -> StatementError | None:
    """The Кодировка= line reads in no encoding: if the text is destroyed, where it first is."""
    found: list[tuple[int, str, str]] = []  # (first bad line, why, the line) per codec
    for codec in ("utf-8", "cp1251", "cp866"):
        lines = head.decode(codec, errors="replace").splitlines()[:40]
        for lineno, line in enumerate(lines, start=1):
            line = line.lstrip("\ufeff").strip()
            why = unreadable(line) if lineno > 1 and line else ""
            if why:
                found.append((lineno, why, line))
                break
        else:
            return None  # readable in this codec: the line is just not there
    # the line no known encoding gets past (on a tie the first codec's view: UTF-8 shows U+FFFD as such)
    lineno, why, line = max(found, key=lambda f: f[0])
    return StatementError(
        f"the text is not valid in any of the known encodings (UTF-8, windows-1251, cp866): the Cyrillic "
        f"was destroyed by a wrong conversion ({why}), so Кодировка= cannot be read; first bad line "
        f"{lineno}: {line[:60]!r} — ask the bank (or whoever converted the file) for the original",
        lineno, source)


def parse_statement(data: bytes, source: str = "", own_inns: Iterable[str] = ()) -> Statement:
    """Parse a whole statement file (bytes); raises StatementError naming the line on any problem.

    ``own_inns``: the organisation's INNs (incoming documents from them are transfers, not payments)."""
    codec, declared = read_encoding(data, source)
    return _parse_stream(io.BytesIO(data), codec, source, declared, own_inns)


def parse_statement_file(path: str | Path, own_inns: Iterable[str] = ()) -> Statement:
    """Parse a statement file from disk, streaming it line by line (memory stays near the payments')."""
    path = Path(path)
    with path.open("rb") as f:
        codec, declared = read_encoding(f.read(8192), str(path))
        f.seek(0)
        return _parse_stream(f, codec, str(path), declared, own_inns)


def _parse_stream(raw: BinaryIO, codec: str, source: str, declared: str = "",
                  own_inns: Iterable[str] = ()) -> Statement:
    was_enabled = gc.isenabled()
    gc.disable()  # millions of small strings: the cyclic GC would only slow the parse down
    text = io.TextIOWrapper(raw, encoding=codec, errors="strict", newline=None)
    try:
        statement = _Parser(text, codec, source, own_inns).parse()
        statement.declared_encoding = declared
        return statement
    except UnicodeDecodeError:
        raw.seek(0)
        data = raw.read()
        try:
            data.decode(codec)
            line = 0  # pragma: no cover - the stream decoder and bytes.decode agree
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
        raise StatementError(
            f"bytes not valid in {CODEC_NAMES.get(codec, codec)}, the encoding the header is in (mixed "
            f"encodings, or Cyrillic destroyed by a wrong conversion?)", line, source) from None
    finally:
        text.detach()
        if was_enabled:
            gc.enable()


def parse_date(value: str, key: str, line: int, source: str = "") -> dt.date:
    """``dd.mm.yyyy`` → date, or StatementError naming the key and line."""
    found = _DATES.get(value)
    if found is not None:
        return found
    if not _DATE_RE.match(value):
        raise StatementError(f"{key}: bad date {value!r} (expected dd.mm.yyyy)", line, source)
    try:
        found = dt.date(int(value[6:10]), int(value[3:5]), int(value[0:2]))
    except ValueError:
        raise StatementError(f"{key}: bad date {value!r} (no such day)", line, source) from None
    if len(_DATES) < 100_000:
        _DATES[value] = found
    return found


_DATES: dict[str, dt.date] = {}


def parse_amount(value: str, key: str, line: int, source: str = "") -> Decimal:
    """``12345.67`` → Decimal, or StatementError naming the key and line."""
    if not _AMOUNT_RE.match(value):
        raise StatementError(f"{key}: bad amount {value!r} (expected digits with '.' and up to 2 decimals)",
                             line, source)
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise StatementError(f"{key}: bad amount {value!r}", line, source) from None


#: C0 control characters but tab (CR and LF end lines), and DEL
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Parser:
    """Reads lines one by one; each document becomes a Payment as soon as its section ends."""

    def __init__(self, lines: Iterable[str], codec: str, source: str, own_inns: Iterable[str] = ()):
        self.it = iter(lines)
        self.codec = codec
        self.source = source
        self.own_inns = frozenset(i.strip() for i in own_inns if i and i.strip())
        self.lineno = 0

    def err(self, message: str, line: int | None = None) -> StatementError:
        return StatementError(message, self.lineno if line is None else line, self.source)

    def next_line(self) -> tuple[int, str] | None:
        for raw in self.it:
            self.lineno += 1
            line = raw.strip()
            if line:
                return self.lineno, line
        return None

    def destroyed(self, line: str, lineno: int | None = None) -> StatementError:
        return self.err(f"the Cyrillic text was destroyed by a wrong conversion ({unreadable(line)}): "
                        f"{line[:60]!r} — ask the bank (or whoever converted the file) for the original",
                        lineno)

    def refuse_control(self, line: str, lineno: int) -> None:
        """No bank writes control characters, and SuiteCRM could not store them: a damaged file."""
        bad = None if line.isprintable() else _CONTROL.search(line)  # isprintable: the fast common case
        if bad:
            raise self.err(f"control character U+{ord(bad.group()):04X} in {line[:60]!r} (a damaged file?)",
                           lineno)

    def split(self, lineno: int, line: str) -> tuple[str, str]:
        key, eq, value = line.partition("=")
        if "\ufffd" in line or "?" in key:
            raise self.destroyed(line, lineno)
        self.refuse_control(line, lineno)
        if not eq:
            raise self.err(f"expected key=value, got {line[:60]!r}", lineno)
        key = key.strip()
        if not key:
            raise self.err(f"empty key in {line[:60]!r}", lineno)
        return key, value.strip()

    def parse(self) -> Statement:
        first = self.next_line()
        if first is None or first[1].lstrip("\ufeff") != HEADER:
            raise self.err(f"not a 1CClientBankExchange file: the first line must be {HEADER!r}", 1)
        header: dict[str, str] = {}
        header_lines: dict[str, int] = {}
        accounts: list[str] = []
        kinds: list[str] = []
        balances: list[dict[str, str]] = []
        payments: list[Payment] = []
        documents = outgoing = transfers = 0
        header_done = False
        own: set[str] = set()
        while True:
            item = self.next_line()
            if item is None:
                raise self.err("file ends without КонецФайла (truncated?)", self.lineno)
            lineno, line = item
            if line == "КонецФайла":
                break
            is_section = line == "СекцияРасчСчет" or line.startswith("СекцияДокумент")
            if is_section and not header_done:
                self.check_header(header, header_lines)
                header_done = True
            if line == "СекцияРасчСчет":
                if documents:
                    raise self.err("СекцияРасчСчет after the documents (balances come first)", lineno)
                values, _ = self.section(lineno, "КонецРасчСчет", "СекцияРасчСчет")
                balances.append(values)
                acc = values.get("РасчСчет", "")
                if acc and acc not in accounts:
                    accounts.append(acc)
                continue
            if line.startswith("СекцияДокумент"):
                _, kind = self.split(lineno, line) if "=" in line else ("", "")
                if not kind:
                    raise self.err("СекцияДокумент without a document kind (СекцияДокумент=<kind>)", lineno)
                if not own:
                    own = set(accounts)
                values, raw = self.section(lineno, "КонецДокумента", "СекцияДокумент")
                documents += 1
                payment = self.document(lineno, kind, values, raw, own)
                if payment is OUTGOING:
                    outgoing += 1
                elif payment is TRANSFER:
                    transfers += 1
                else:
                    payments.append(payment)  # type: ignore[arg-type]
                continue
            if "\ufffd" in line:
                raise self.destroyed(line, lineno)
            if line in ("КонецДокумента", "КонецРасчСчет"):
                raise self.err(f"{line} without a section start", lineno)
            key, value = self.split(lineno, line)
            if header_done:
                raise self.err(f"header line {key}= after the first section", lineno)
            if key == "РасчСчет":
                if value and value not in accounts:
                    accounts.append(value)
            elif key == "Документ":
                kinds.append(value)
            else:
                if key in header:
                    raise self.err(f"header key {key} given twice", lineno)
                header[key] = value
                header_lines[key] = lineno
                if key in ("ДатаСоздания", "ДатаНачала", "ДатаКонца") and value:
                    parse_date(value, key, lineno, self.source)
        rest = self.next_line()
        if rest is not None:
            raise self.err(f"content after КонецФайла: {rest[1][:60]!r}", rest[0])
        if not header_done:
            self.check_header(header, header_lines)
        return Statement(version=header["ВерсияФормата"], encoding=self.codec, header=header,
                         accounts=accounts, payments=payments, documents=documents, outgoing=outgoing,
                         transfers=transfers, balances=balances)

    def check_header(self, header: dict[str, str], lines: dict[str, int]) -> None:
        version = header.get("ВерсияФормата", "")
        if not version:
            raise self.err("header has no ВерсияФормата=", 0)
        if version not in FORMAT_VERSIONS:
            raise self.err(f"unsupported ВерсияФормата {version!r} (supported: {', '.join(FORMAT_VERSIONS)})",
                           lines["ВерсияФормата"])

    def section(self, start: int, end: str, name: str) -> tuple[dict[str, str], list[str]]:
        """Values of one section, and its raw lines (for locating a bad value's line later)."""
        values: dict[str, str] = {}
        raw_lines: list[str] = []
        for raw in self.it:
            self.lineno += 1
            raw_lines.append(raw)
            line = raw.strip()
            if not line:
                continue
            key, eq, value = line.partition("=")
            if "\ufffd" in line or "?" in key:
                raise self.destroyed(line)
            self.refuse_control(line, self.lineno)
            if not eq:
                if line == end:
                    return values, raw_lines
                if line.startswith("Секция") or line in _MARKERS:
                    raise self.err(f"{name} started at line {start} has no {end} before {line}")
                raise self.err(f"expected key=value, got {line[:60]!r}")
            key = key.strip()
            if key.startswith("Секция"):
                raise self.err(f"{name} started at line {start} has no {end} before {key}")
            if not key:
                raise self.err(f"empty key in {line[:60]!r}")
            if key in values:
                raise self.err(f"{key} given twice in the {name} started at line {start}")
            values[key] = value.strip()
        raise self.err(f"{name} started at line {start} has no {end}", self.lineno)

    def document(self, start: int, kind: str, doc: dict[str, str], raw_lines: list[str],
                 own: set[str]) -> Payment | object:
        """The incoming Payment of one document, or OUTGOING / TRANSFER (see the module docstring)."""
        def line_of(key: str) -> int:
            """Line of ``key=`` inside this document (looked up only when reporting an error)."""
            prefix = key + "="
            for i, text in enumerate(raw_lines):
                if text.strip().startswith(prefix):
                    return start + 1 + i
            return start

        def required(key: str) -> str:
            value = doc.get(key, "")
            if not value:
                raise self.err(f"document ({kind}) started at line {start} has no {key}=",
                               line_of(key) if key in doc else start)
            return value

        def typed(parse: Any, key: str, value: str) -> Any:
            try:
                return parse(value, key, start, self.source)
            except StatementError as exc:
                raise StatementError(exc.reason, line_of(key), self.source) from None

        number = required("Номер")
        date = typed(parse_date, "Дата", required("Дата"))
        amount = typed(parse_amount, "Сумма", required("Сумма"))
        received = None
        if doc.get("ДатаПоступило"):
            received = typed(parse_date, "ДатаПоступило", doc["ДатаПоступило"])
        if doc.get("ДатаСписано"):
            typed(parse_date, "ДатаСписано", doc["ДатаСписано"])
        payer_acc = doc.get("ПлательщикСчет") or doc.get("ПлательщикРасчСчет", "")
        recipient_acc = doc.get("ПолучательСчет") or doc.get("ПолучательРасчСчет", "")
        payer_inn = doc.get("ПлательщикИНН", "")
        if payer_acc in own and recipient_acc in own and payer_acc:
            return TRANSFER
        if payer_inn and payer_inn == doc.get("ПолучательИНН", ""):
            return TRANSFER  # the organisation paid itself (its account elsewhere is not in this file)
        if recipient_acc and recipient_acc in own:
            incoming = True
        elif payer_acc and payer_acc in own:
            incoming = False
        else:
            incoming = received is not None
        if not incoming:
            return OUTGOING
        if payer_inn in self.own_inns:
            return TRANSFER
        name = doc.get("Плательщик1") or _PAYER_NAME_INN_RE.sub("", doc.get("Плательщик", ""))
        purpose = doc.get("НазначениеПлатежа") or " ".join(
            doc[k] for k in (f"НазначениеПлатежа{i}" for i in range(1, 7)) if doc.get(k))
        key = file_payment_key(number, date, amount, payer_acc, payer_inn, recipient_acc, received)
        return Payment(key=key, source="file", number=number, date=date, amount=amount, currency="RUB",
                       payer_inn=payer_inn, payer_kpp=doc.get("ПлательщикКПП", ""), payer_name=name.strip(),
                       payer_account=payer_acc, payer_bik=doc.get("ПлательщикБИК", ""), purpose=purpose,
                       line=start, identity=payment_identity(number, date, amount, payer_inn))


#: what :meth:`_Parser.document` returns for a document that is not an incoming payment
OUTGOING = object()
TRANSFER = object()
