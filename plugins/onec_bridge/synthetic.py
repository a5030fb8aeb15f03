"""Synthetic 1CClientBankExchange statements and payer INNs, for benchmarks and volume tests.

``make_statement(n, inns)`` writes ``n`` incoming payment orders (plus every 10th an outgoing one, which
the importer skips) paid by payers cycling through ``inns``, in windows-1251 with CRLF line ends, the
way bank-client software exports them.
"""

from __future__ import annotations

import datetime as dt

from stdnum.ru import inn as inn_check

OWN_ACCOUNT = "40702810900000012345"


def company_inn(n: int) -> str:
    """A valid 10-digit company INN derived from ``n`` (region 77)."""
    body = f"77{n % 10_000_000:07d}"
    return body + inn_check.calc_company_check_digit(body)


def make_statement(n: int, inns: list[str], *, start: dt.date = dt.date(2026, 3, 1),
                   encoding: str = "cp1251", outgoing_every: int = 10) -> bytes:
    """A statement with ``n`` incoming payments (and some outgoing ones) as file bytes."""
    day = start.strftime("%d.%m.%Y")
    out = [
        "1CClientBankExchange", "ВерсияФормата=1.03",
        f"Кодировка={'Windows' if encoding == 'cp1251' else 'DOS' if encoding == 'cp866' else 'UTF-8'}",
        "Отправитель=Банк-Клиент", "Получатель=Бухгалтерия предприятия, редакция 3.0",
        f"ДатаСоздания={day}", "ВремяСоздания=08:00:00", f"ДатаНачала={day}", f"ДатаКонца={day}",
        f"РасчСчет={OWN_ACCOUNT}", "Документ=Платежное поручение",
        "СекцияРасчСчет", f"ДатаНачала={day}", f"ДатаКонца={day}", f"РасчСчет={OWN_ACCOUNT}",
        "НачальныйОстаток=0.00", "КонецРасчСчет",
    ]
    for i in range(n):
        date = (start + dt.timedelta(days=i % 28)).strftime("%d.%m.%Y")
        payer = inns[i % len(inns)]
        out += [
            "СекцияДокумент=Платежное поручение", f"Номер={i + 1}", f"Дата={date}",
            f"Сумма={1000 + (i * 37) % 90000}.{i % 100:02d}",
            f"ПлательщикСчет=40702810{i:012d}", f"ДатаСписано={date}",
            f"Плательщик=ИНН {payer} ООО \"Плательщик {i % len(inns)}\"", f"ПлательщикИНН={payer}",
            f"Плательщик1=ООО \"Плательщик {i % len(inns)}\"", "ПлательщикКПП=770101001",
            "ПлательщикБИК=044525225", f"ПолучательСчет={OWN_ACCOUNT}", f"ДатаПоступило={date}",
            "Получатель=ООО \"Ромашка\"", "ПолучательИНН=7736207543", "ВидОплаты=01", "Очередность=5",
            f"НазначениеПлатежа=Оплата по счету № {i + 1} от {date}. Без НДС", "КонецДокумента",
        ]
        if outgoing_every and i % outgoing_every == 0:
            out += [
                "СекцияДокумент=Платежное поручение", f"Номер=9{i + 1}", f"Дата={date}", "Сумма=100.00",
                f"ПлательщикСчет={OWN_ACCOUNT}", f"ДатаСписано={date}", "Плательщик=ООО \"Ромашка\"",
                "ПлательщикИНН=7736207543", "ПолучательСчет=40702810100000000777",
                "Получатель=ООО \"Поставщик\"", "ПолучательИНН=7710140679",
                "НазначениеПлатежа=Оплата поставщику", "КонецДокумента",
            ]
    out.append("КонецФайла")
    return ("\r\n".join(out) + "\r\n").encode(encoding)
