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
seeing in which one the ``Кодировка=`` line reads; the declared value must be one of ``Windows``,
``DOS``, ``UTF-8``. Any problem raises :class:`StatementError` with the line number and what is wrong;
nothing is returned for a file with an error, so a malformed file imports nothing.

Direction: a document is **incoming** when its ``ПолучательСчет`` is one of the file's own accounts
(header or ``СекцияРасчСчет`` ``РасчСчет``), **outgoing** when its ``ПлательщикСчет`` is; otherwise a
set ``ДатаПоступило`` means incoming and anything else outgoing. Outgoing documents are skipped (counted).
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

from .payment import Payment, file_payment_key

HEADER = "1CClientBankExchange"
FORMAT_VERSIONS = ("1.00", "1.01", "1.02", "1.03")
#: declared Кодировка value -> Python codec
ENCODINGS = {"windows": "cp1251", "dos": "cp866", "utf-8": "utf-8", "utf8": "utf-8"}
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
    balances: list[dict[str, str]] = field(default_factory=list)


def detect_encoding(data: bytes, source: str = "") -> str:
    """The Python codec of a statement file, from where its ``Кодировка=`` line reads.

    Raises StatementError when no ``Кодировка=`` line is found, or its value is not a known encoding.
    """
    head = data[:8192]
    for codec in ("utf-8", "cp1251", "cp866"):
        text = head.decode(codec, errors="replace")
        for lineno, line in enumerate(text.splitlines()[:40], start=1):
            line = line.lstrip("\ufeff").strip()
            if line.startswith(_KEY_PREFIX):
                declared = line[len(_KEY_PREFIX):].strip()
                known = ENCODINGS.get(declared.lower())
                if known is None:
                    raise StatementError(
                        f"unknown encoding {declared!r} in Кодировка= (expected Windows, DOS or UTF-8)",
                        lineno, source)
                if codec == "utf-8" or codec == known:
                    # A file re-saved as UTF-8 keeps its old header line; its bytes decide.
                    return codec
                raise StatementError(
                    f"Кодировка={declared} but the file's bytes are {codec} (a re-encoded file?)",
                    lineno, source)
    if not head.lstrip(b"\xef\xbb\xbf").startswith(HEADER.encode()):
        raise StatementError(f"not a 1CClientBankExchange file: the first line must be {HEADER!r}", 1, source)
    raise StatementError("header has no Кодировка= line (Windows, DOS or UTF-8)", 0, source)


def parse_statement(data: bytes, source: str = "") -> Statement:
    """Parse a whole statement file (bytes); raises StatementError naming the line on any problem."""
    codec = detect_encoding(data, source)
    return _parse_stream(io.BytesIO(data), codec, source)


def parse_statement_file(path: str | Path) -> Statement:
    """Parse a statement file from disk, streaming it line by line (memory stays near the payments')."""
    path = Path(path)
    with path.open("rb") as f:
        codec = detect_encoding(f.read(8192), str(path))
        f.seek(0)
        return _parse_stream(f, codec, str(path))


def _parse_stream(raw: BinaryIO, codec: str, source: str) -> Statement:
    was_enabled = gc.isenabled()
    gc.disable()  # millions of small strings: the cyclic GC would only slow the parse down
    text = io.TextIOWrapper(raw, encoding=codec, errors="strict", newline=None)
    try:
        return _Parser(text, codec, source).parse()
    except UnicodeDecodeError:
        raw.seek(0)
        data = raw.read()
        try:
            data.decode(codec)
            line = 0  # pragma: no cover - the stream decoder and bytes.decode agree
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
        raise StatementError(f"bytes not valid in the declared encoding {codec}", line, source) from None
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


class _Parser:
    """Reads lines one by one; each document becomes a Payment as soon as its section ends."""

    def __init__(self, lines: Iterable[str], codec: str, source: str):
        self.it = iter(lines)
        self.codec = codec
        self.source = source
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

    def split(self, lineno: int, line: str) -> tuple[str, str]:
        key, eq, value = line.partition("=")
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
        documents = outgoing = 0
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
                if payment is None:
                    outgoing += 1
                else:
                    payments.append(payment)
                continue
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
                         balances=balances)

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
                 own: set[str]) -> Payment | None:
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
        if recipient_acc and recipient_acc in own:
            incoming = True
        elif payer_acc and payer_acc in own:
            incoming = False
        else:
            incoming = received is not None
        if not incoming:
            return None
        payer_inn = doc.get("ПлательщикИНН", "")
        name = doc.get("Плательщик1") or _PAYER_NAME_INN_RE.sub("", doc.get("Плательщик", ""))
        purpose = doc.get("НазначениеПлатежа") or " ".join(
            doc[k] for k in (f"НазначениеПлатежа{i}" for i in range(1, 7)) if doc.get(k))
        key = file_payment_key(number, date, amount, payer_acc, payer_inn, recipient_acc, received)
        return Payment(key=key, source="file", number=number, date=date, amount=amount, currency="RUB",
                       payer_inn=payer_inn, payer_kpp=doc.get("ПлательщикКПП", ""), payer_name=name.strip(),
                       payer_account=payer_acc, purpose=purpose, line=start)
