"""A stand-in for 1C's standard OData interface (``responses``), shaped like 1C БП 3.0's answers: the
receipts, counterparties, currencies and — when given — the payers' bank accounts and the bank
classifier."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

import responses

from plugins.onec_bridge.odata import COUNTERPARTIES_ENTITY, CURRENCIES_ENTITY, PAYMENTS_ENTITY, ODataClient
from plugins.onec_bridge.odata_source import BANK_ACCOUNTS_ENTITY, BANKS_ENTITY

BASE = "http://1c.test/bp/odata/standard.odata"
RUB = "f1a17773-5488-11e0-91e9-00e04c771318"
ORG = "6a8c1f1a-1f3e-11e8-80d3-0cc47a7d2c7f"
CP_RTK = "b2a0e0c4-8f3d-11e9-80c4-0cc47a7d2c7f"
CP_PERSON = "c7d2e1f0-8f3d-11e9-80c4-0cc47a7d2c7f"
ODATA = {"url": BASE, "username": "odata.user", "password": "s3cret-pass", "page_size": 2,
         "overlap_days": 3, "start_date": "2026-03-01"}


def doc(ref: str, number: str, date: str, amount: float, *, posted: bool = True, deleted: bool = False,
        cp: str = CP_RTK, cp_type: str = "StandardODATA.Catalog_Контрагенты") -> dict:
    """A Document_ПоступлениеНаРасчетныйСчет entity as 1C БП 3.0 returns it."""
    return {
        "Ref_Key": ref, "DataVersion": "AAAAAQAAAAA=", "DeletionMark": deleted, "Number": number,
        "Date": date, "Posted": posted, "Организация_Key": ORG, "ВидОперации": "ОплатаПокупателя",
        "СчетОрганизации_Key": "9d2b3a0e-1f3e-11e8-80d3-0cc47a7d2c7f", "Контрагент": cp,
        "Контрагент_Type": cp_type, "СчетКонтрагента_Key": "00000000-0000-0000-0000-000000000000",
        "ВалютаДокумента_Key": RUB, "СуммаДокумента": amount,
        "НазначениеПлатежа": f"Оплата по счету {number}",
        "НомерВходящегоДокумента": number, "ДатаВходящегоДокумента": date, "Комментарий": "",
        "Ответственный_Key": "3b1c9d2e-1f3e-11e8-80d3-0cc47a7d2c7f",
    }


def ref(n: int) -> str:
    return f"{n:08x}-8f3d-11e9-80c4-0cc47a7d2c7f"


COUNTERPARTIES = [
    {"Ref_Key": CP_RTK, "Description": "Ростелеком ПАО", "НаименованиеПолное": 'ПАО "Ростелеком"',
     "ИНН": "7707049388", "КПП": "770701001", "DeletionMark": False},
]


class FakeOneC:
    """Serves the entity sets with $filter on Date / Ref_Key and $top/$skip, like 1C does (the bank
    catalogs answer 404, as unpublished ones do, unless rows are given)."""

    def __init__(self, rsps: responses.RequestsMock, docs: list[dict], *,
                 bank_accounts: list[dict] | None = None, banks: list[dict] | None = None,
                 counterparties: list[dict] | None = None):
        self.docs = docs
        self.counterparties = COUNTERPARTIES if counterparties is None else counterparties
        self.bank_accounts = bank_accounts
        self.banks = banks
        self.requests: list[tuple[str, dict]] = []
        self.fail_next: list[int] = []
        client = ODataClient(BASE, "u", "p")
        for entity in (PAYMENTS_ENTITY, COUNTERPARTIES_ENTITY, CURRENCIES_ENTITY, BANK_ACCOUNTS_ENTITY,
                       BANKS_ENTITY):
            rsps.add_callback(responses.GET, client.url(entity), callback=self.answer)

    def answer(self, request):
        parts = urlsplit(request.url)
        entity = unquote(parts.path.rsplit("/", 1)[-1])
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append((entity, q))
        if self.fail_next:
            return (self.fail_next.pop(0), {}, json.dumps(
                {"odata.error": {"code": "-1", "message": {"lang": "ru", "value": "Сервис недоступен"}}}))
        assert q["$format"] == "json"
        assert request.headers["Authorization"].startswith("Basic ")
        if entity == PAYMENTS_ENTITY:
            since = q["$filter"].split("datetime'")[1].rstrip("'")
            rows = sorted((d for d in self.docs if d["Date"] >= since),
                          key=lambda d: (d["Date"], d["Ref_Key"]))
        elif entity == COUNTERPARTIES_ENTITY:
            rows = [c for c in self.counterparties if c["Ref_Key"] in q["$filter"]]
        elif entity in (BANK_ACCOUNTS_ENTITY, BANKS_ENTITY):
            published = self.bank_accounts if entity == BANK_ACCOUNTS_ENTITY else self.banks
            if published is None:  # not published in 1C's OData settings
                return (404, {}, json.dumps({"odata.error": {"code": "14", "message": {
                    "lang": "ru", "value": f"Не найден ресурс {entity}"}}}, ensure_ascii=False))
            rows = [r for r in published if r["Ref_Key"] in q["$filter"]]
        else:
            rows = [{"Ref_Key": RUB, "Code": "643", "Description": "руб."}]
        skip, top = int(q.get("$skip", 0)), int(q.get("$top", 1000))
        body = {"odata.metadata": f"{BASE}/$metadata#{entity}", "value": rows[skip:skip + top]}
        return (200, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(body, ensure_ascii=False))

    def payment_queries(self):
        return [q for e, q in self.requests if e == PAYMENTS_ENTITY]


# the sample statement's payment no. 418 as 1C has it (examples/1c/)
RTK_ACCOUNT = "b1a0e0c4-0000-11e9-80c4-0cc47a7d2c7f"  # Catalog_БанковскиеСчета of the payer
PSB = "c1a0e0c4-0000-11e9-80c4-0cc47a7d2c7f"  # Catalog_КлассификаторБанков: ПАО "ПРОМСВЯЗЬБАНК"
BANK_ACCOUNTS = [{"Ref_Key": RTK_ACCOUNT, "НомерСчета": "40702810600000000555", "Банк_Key": PSB}]
BANKS = [{"Ref_Key": PSB, "Code": "044525555"}]


def receipt(**changes) -> dict:
    """1C's receipt of the sample's payment no. 418 (Ростелеком, 120 000.00, order of 13.03.2026)."""
    d = doc(ref(418), "0000-000077", "2026-03-13T16:05:00", 120000.00)
    d.update({"НомерВходящегоДокумента": "418", "ДатаВходящегоДокумента": "2026-03-13T00:00:00",
              "СчетКонтрагента_Key": RTK_ACCOUNT,
              "НазначениеПлатежа": "Оплата по счету № 77 от 01.03.2026 за услуги связи"}, **changes)
    return d


class OneCCounterparties:
    """Catalog_Контрагенты: GET with $filter on ИНН/КПП, POST (201), PATCH by guid (200)."""

    def __init__(self, rsps):
        self.rows: dict[str, dict] = {}
        self.log: list[str] = []
        self.lose_next_post_answer = False
        self.refuse_posts_after: int | None = None  # answer 503 (creating nothing) once this many were made
        url = ODataClient(BASE, "u", "p").url(COUNTERPARTIES_ENTITY)
        rsps.add_callback(responses.GET, url, callback=self.get)
        rsps.add_callback(responses.POST, url, callback=self.post)
        rsps.add_callback(responses.PATCH, responses.matchers.re.compile(
            r".*/Catalog_%D0%9A.*\(guid'[0-9a-f-]{36}'\)(\?.*)?$"), callback=self.patch)

    def get(self, request):
        self.log.append("GET")
        flt = parse_qs(urlsplit(request.url).query)["$filter"][0]
        want = dict(part.split(" eq ") for part in flt.split(" and "))
        rows = [r for r in self.rows.values()
                if f"'{r['ИНН']}'" == want["ИНН"] and not r["DeletionMark"]
                and ("КПП" not in want or f"'{r.get('КПП')}'" == want["КПП"])]
        return 200, {}, json.dumps({"odata.metadata": "…", "value": rows}, ensure_ascii=False)

    def post(self, request):
        self.log.append("POST")
        if self.refuse_posts_after is not None and len(self.rows) >= self.refuse_posts_after:
            down = {"odata.error": {"code": "-1", "message": {"lang": "ru", "value": "Сервис недоступен"}}}
            return 503, {}, json.dumps(down)
        body = json.loads(request.body)
        ref = str(uuid.uuid4())
        self.rows[ref] = {"Ref_Key": ref, "DeletionMark": False, "Code": f"{len(self.rows) + 1:09d}", **body}
        if self.lose_next_post_answer:
            self.lose_next_post_answer = False
            return 504, {}, "Gateway Timeout"
        return 201, {}, json.dumps(self.rows[ref], ensure_ascii=False)

    def patch(self, request):
        self.log.append("PATCH")
        ref = unquote(urlsplit(request.url).path).split("guid'")[1].rstrip("')")
        self.rows[ref].update(json.loads(request.body))
        return 200, {}, json.dumps(self.rows[ref], ensure_ascii=False)
