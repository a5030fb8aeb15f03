"""The 1CClientBankExchange parser on real-looking statements and on broken ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from onec_kit import FIXTURES, OWN_ACCOUNT

from plugins.onec_bridge.statement import StatementError, parse_statement

TEXT = (FIXTURES / "statement_utf8.txt").read_bytes().decode("utf-8")


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def line_no(text: str, startswith: str, nth: int = 1) -> int:
    seen = 0
    for i, line in enumerate(lines_of(text), start=1):
        if line.startswith(startswith):
            seen += 1
            if seen == nth:
                return i
    raise AssertionError(f"{startswith!r} not in text")


@pytest.mark.parametrize("name, codec", [("windows", "cp1251"), ("dos", "cp866"), ("utf8", "utf-8")])
def test_each_encoding_gives_the_same_incoming_payments(name, codec):
    st = parse_statement((FIXTURES / f"statement_{name}.txt").read_bytes(), source=name)
    assert st.encoding == codec
    assert st.version == "1.03"
    assert st.accounts == [OWN_ACCOUNT]
    assert st.documents == 4 and st.outgoing == 1  # the payment to a supplier is skipped
    assert [p.number for p in st.payments] == ["418", "95", "3"]
    first, second, third = st.payments
    assert first.date == dt.date(2026, 3, 13)
    assert first.amount == Decimal("120000.00")
    assert (first.payer_inn, first.payer_kpp) == ("7707049388", "770701001")
    assert first.payer_name == 'ПАО "Ростелеком"'  # Плательщик1, without the "ИНН ..." prefix
    assert first.payer_account == "40702810400000000555"
    assert first.purpose.startswith("Оплата по счету № 77")
    assert second.purpose == "Предоплата по договору 12/26 без НДС"  # НазначениеПлатежа1 + 2
    assert second.amount == Decimal("250000.50")
    assert third.payer_name == "ИП Петров Петр Петрович"
    assert all(p.source == "file" for p in st.payments)


def test_keys_are_the_same_in_every_encoding_and_differ_between_documents():
    keys = {name: [p.key for p in parse_statement((FIXTURES / f"statement_{name}.txt").read_bytes()).payments]
            for name in ("windows", "dos", "utf8")}
    assert keys["windows"] == keys["dos"] == keys["utf8"]
    assert len(set(keys["utf8"])) == 3


def test_same_document_in_another_statement_has_the_same_key_and_a_changed_amount_does_not():
    other_header = TEXT.replace("ДатаСоздания=15.03.2026", "ДатаСоздания=16.03.2026").replace(
        "Отправитель=СБИС Клиент-Банк", "Отправитель=Другой банк")
    a = parse_statement(TEXT.encode()).payments[0]
    b = parse_statement(other_header.encode()).payments[0]
    assert a.key == b.key and a.record_id == b.record_id
    changed = parse_statement(TEXT.replace("Сумма=120000.00", "Сумма=120000.01").encode()).payments[0]
    assert changed.key != a.key


def test_direction_falls_back_to_date_received_when_no_account_is_ours():
    text = TEXT.replace(f"РасчСчет={OWN_ACCOUNT}", "РасчСчет=40702810000000000001")
    st = parse_statement(text.encode())
    # ПолучательСчет is no longer ours: documents with ДатаПоступило count as incoming, ДатаСписано not
    assert [p.number for p in st.payments] == ["418", "95", "3"]
    assert st.outgoing == 1


def test_a_utf8_file_that_still_says_windows_is_read_as_utf8():
    assert "Кодировка=Windows" in TEXT
    assert parse_statement(TEXT.encode("utf-8")).encoding == "utf-8"


def broken(old: str, new: str, count: int = 1) -> str:
    assert old in TEXT
    return TEXT.replace(old, new, count)


def expect_error(text: str | bytes, line: int, *words: str) -> StatementError:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(StatementError) as info:
        parse_statement(data, source="bad.txt")
    err = info.value
    assert err.line == line, str(err)
    assert (f"bad.txt, line {line}:" if line else "bad.txt:") in str(err)
    for w in words:
        assert w in str(err)
    return err


def test_missing_end_of_document_names_the_document_and_the_line_where_it_shows():
    text = broken("счету 81\r\nКонецДокумента\r\n", "счету 81\r\n")
    start = line_no(text, "СекцияДокумент", 3)
    next_section = line_no(text, "СекцияДокумент", 4)
    expect_error(text, next_section, f"started at line {start}", "КонецДокумента")


def test_missing_end_of_document_at_the_end_of_the_file():
    text = TEXT.replace("КонецДокумента\r\nКонецФайла", "КонецФайла")
    expect_error(text, line_no(text, "КонецФайла"), "КонецДокумента")


def test_bad_amount_names_the_line():
    text = broken("Сумма=250000.50", "Сумма=250 000,50")
    expect_error(text, line_no(text, "Сумма=250 000,50"), "Сумма", "bad amount", "250 000,50")


@pytest.mark.parametrize("value", ["31.02.2026", "2026-03-14", "14.3.2026", ""])
def test_bad_date_names_the_line(value):
    text = broken("Дата=14.03.2026\r\nСумма=21750.00", f"Дата={value}\r\nСумма=21750.00")
    where = text[: text.index(f"Дата={value}\r\nСумма=21750.00")].count("\n") + 1
    expect_error(text, where, "Дата")


def test_bad_date_received_names_the_line():
    text = broken("ДатаПоступило=14.03.2026", "ДатаПоступило=14.13.2026")
    expect_error(text, line_no(text, "ДатаПоступило=14.13.2026"), "ДатаПоступило")


def test_unknown_encoding_names_the_header_line():
    text = broken("Кодировка=Windows", "Кодировка=KOI8-R")
    expect_error(text, 3, "unknown encoding", "KOI8-R")


def test_encoding_that_contradicts_the_bytes_is_refused():
    data = TEXT.replace("Кодировка=Windows", "Кодировка=DOS").encode("cp1251")
    expect_error(data, 3, "DOS", "cp1251")


def test_missing_encoding_line():
    text = TEXT.replace("Кодировка=Windows\r\n", "")
    expect_error(text, 0, "Кодировка")


def test_not_a_statement_at_all():
    expect_error("hello\r\nworld\r\n", 1, "1CClientBankExchange")
    expect_error("1CClientBankExchange\r\nКодировка=Windows\r\n".replace("1CClient", "XClient"), 1)


def test_truncated_file_without_end_of_file():
    text = TEXT[: TEXT.index("КонецФайла")]
    expect_error(text, len(lines_of(text)), "КонецФайла")


def test_content_after_end_of_file():
    text = TEXT + "Номер=1\r\n"
    expect_error(text, len(lines_of(text)), "after КонецФайла")


def test_unsupported_format_version():
    text = broken("ВерсияФормата=1.03", "ВерсияФормата=2.00")
    expect_error(text, 2, "ВерсияФормата", "2.00")


def test_line_without_equals_sign_inside_a_document():
    text = broken("ВидПлатежа=Электронно", "ВидПлатежа Электронно")
    expect_error(text, line_no(text, "ВидПлатежа Электронно"), "key=value")


def test_key_given_twice_in_a_document():
    text = broken("ВидОплаты=01", "Сумма=1.00")
    expect_error(text, line_no(text, "Сумма=1.00"), "Сумма given twice")


def test_end_of_document_without_a_start():
    text = broken("КонецРасчСчет\r\n", "КонецРасчСчет\r\nКонецДокумента\r\n")
    expect_error(text, line_no(text, "КонецДокумента"), "without a section start")


def test_document_without_a_number():
    text = broken("Номер=95\r\n", "")
    expect_error(text, line_no(text, "СекцияДокумент", 2), "Номер")


def test_bytes_invalid_in_the_declared_encoding_name_their_line():
    data = TEXT.encode("utf-8").replace("Оплата поставщику".encode(), b"\xff\xfe")
    expect_error(data, line_no(TEXT, "НазначениеПлатежа=Оплата поставщику"), "not valid in UTF-8")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b"])
def test_a_control_character_in_a_value_names_the_line(char):
    """No bank writes them, and SuiteCRM could not store them (found by the fuzz test: a NUL in a payer's
    account reached the writer, which refused it mid-import)."""
    old = next(ln for ln in lines_of(TEXT) if ln.startswith("ПлательщикСчет="))
    text = broken(old, old[:-3] + char + old[-2:])
    err = expect_error(text, line_no(text, old[:-3] + char), "control character", f"U+{ord(char):04X}")
    assert err.reason
