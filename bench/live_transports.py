"""Read and write throughput of every transport on a real SuiteCRM 7.14.6, beside naive baselines and the
Python peers, in one run (not part of the test run).

Against the instance of a ``lab.sh`` env file (``--env``, default ``$SUITECRM_EXT_LIVE_ENV``):

- seeds ``--records`` Accounts straight into the database (reads are measured, not SuiteCRM's save),
  a fifth of them with quotes, ``&`` and markup so HTML decoding is exercised; removes them at the end;
- **reads**: ``find`` over them with ``--page`` records per page and the same 9 fields on every transport
  (REST v4_1, SOAP, V8, MySQL), each beside its naive baseline run in the same process (one ``get`` per
  record for the APIs, on a sample; LIMIT/OFFSET pages without normalisation for MySQL) and beside the
  peers on the same instance and page size: a minimal ``get_entry_list`` loop with **sugarcrm-python**
  (REST) and a minimal page loop with **pysuitecrm** (V8) — both answer raw dicts, no typing, no
  decoding, no tie safety;
- **normalisation**: µs per record our transports spend turning one raw page into records (values
  typed, ``to_html()`` undone), measured on captured answers;
- **writes**: REST ``save_many`` (``set_entries``) vs ``save`` one by one, SOAP ``save_many``, V8 ``save``
  (V8 has no bulk call) — records/s; SuiteCRM's own save dominates.

Peers are bench-only dependencies (``pip install -e '.[bench]'``); a missing one is reported, not fatal.
Usage::

    python bench/live_transports.py [--env FILE] [--records 1000] [--page 200] [--writes 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suitecrm_ext.crm.base import Cond  # noqa: E402
from suitecrm_ext.lab import LIVE_ENV_VAR, LabInstance, read_lab_env  # noqa: E402

FIELDS = ["name", "industry", "account_type", "description", "billing_address_city", "annual_revenue",
          "date_entered", "date_modified", "deleted"]


PEERS = {"rest": "sugarcrm-python get_entry_list loop", "v8": "pysuitecrm page loop"}


def seed(lab: LabInstance, tag: str, n: int) -> list[str]:
    """``n`` Accounts named ``<tag> <i>`` inserted in one go (the app's DB user)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    rows = []
    for i in range(n):
        name = f"{tag} {i:05d}" + (" O'Brien & Sons <b>x</b>" if i % 5 == 0 else "")
        rows.append((str(uuid.uuid4()), name, now, now - dt.timedelta(seconds=i), "1", "1", "Banking",
                     "Customer", f"Account {i}: \"quoted\" & plain text " * 3, "Москва", str(1000 + i), 0))
    with pymysql.connect(**lab.db_params()) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO accounts (id, name, date_entered, date_modified, created_by, modified_user_id,"
            " industry, account_type, description, billing_address_city, annual_revenue, deleted)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
        conn.commit()
    return [r[0] for r in rows]


def unseed(lab: LabInstance, tag: str) -> None:
    with pymysql.connect(**lab.db_params()) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM accounts WHERE name LIKE %s", (tag + " %",))
        cur.execute("DELETE FROM accounts_cstm WHERE id_c NOT IN (SELECT id FROM accounts)")
        conn.commit()


def best(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """(best records/s, records) over ``repeat`` runs of ``run`` (which returns how many it read)."""
    return best_of(repeat, run)[0]


def best_of(repeat: int, *runs: Callable[[], int]) -> list[tuple[float, int]]:
    """For each of ``runs``: (best records/s, records) over ``repeat`` rounds in which the runs take
    turns, so a busy moment of a shared machine does not land on one of them only."""
    rates: list[list[float]] = [[] for _ in runs]
    counts = [0] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            t0 = time.perf_counter()
            counts[i] = run()
            rates[i].append(counts[i] / (time.perf_counter() - t0))
    return [(max(r), n) for r, n in zip(rates, counts, strict=True)]


def line(what: str, rate: float | None, n: int | str = "", note: str = "") -> None:
    shown = f"{rate:10,.0f}/s" if rate is not None else f"{'-':>12}"
    print(f"  {what:<46}{shown}  {str(n):>6}  {note}")


# --- reads -------------------------------------------------------------------------------------


def our_find(lab: LabInstance, flavour: str, tag: str, page: int) -> Callable[[], int]:
    crm = lab.transport(flavour)
    crm.page_size = page
    crm.count("Accounts", Cond("name", "like", tag + " %"))  # login, metadata: not timed

    def run() -> int:
        return sum(1 for _ in crm.find("Accounts", Cond("name", "like", tag + " %"), FIELDS))
    return run


def naive_gets(lab: LabInstance, flavour: str, ids: list[str]) -> Callable[[], int]:
    crm = lab.transport(flavour)
    crm.get("Accounts", ids[0], FIELDS)

    def run() -> int:
        for rid in ids:
            crm.get("Accounts", rid, FIELDS)
        return len(ids)
    return run


def naive_mysql(lab: LabInstance, tag: str, page: int) -> Callable[[], int]:
    def run() -> int:
        n = 0
        with pymysql.connect(**lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
            offset = 0
            while True:
                cur.execute(f"SELECT id, {', '.join(FIELDS)} FROM accounts WHERE deleted = 0 AND name LIKE %s"
                            f" ORDER BY id LIMIT {page} OFFSET {offset}", (tag + " %",))
                rows = cur.fetchall()
                n += len(rows)
                if len(rows) < page:
                    return n
                offset += page
    return run


def peer_sugarcrm(lab: LabInstance, tag: str, page: int) -> Callable[[], int] | str:
    try:
        from sugarcrm.client import Client
    except ImportError:
        return "sugarcrm-python not installed (pip install -e '.[bench]')"
    client = Client(lab.url, lab["SUITECRM_USER"], lab["SUITECRM_PASSWORD"])
    query = f"accounts.name LIKE '{tag} %'"

    def run() -> int:  # the minimal loop a peer user writes: next_offset until a short page
        n, offset = 0, 0
        while True:
            ans = client.get_entry_list("Accounts", query=query, offset=offset, select_fields=FIELDS,
                                        max_results=page)
            n += len(ans["entry_list"])
            if int(ans["result_count"]) < page:
                return n
            offset = int(ans["next_offset"])
    return run


def peer_pysuitecrm(lab: LabInstance, tag: str, page: int) -> Callable[[], int] | str:
    try:
        from PySuiteCRM.SuiteCRM import SuiteCRM
    except ImportError:
        return "pysuitecrm (and requests-oauthlib) not installed (pip install -e '.[bench]')"
    os.chdir(tempfile.mkdtemp(prefix="pysuitecrm-"))  # it keeps its token in ./AccessToken.txt
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the lab answers on http://127.0.0.1
    client = SuiteCRM(lab["SUITECRM_V8_CC_CLIENT_ID"], lab["SUITECRM_V8_CC_CLIENT_SECRET"],
                      f"{lab.url}/Api/V8")
    fields = ",".join(FIELDS)

    def run() -> int:  # its get_all() is broken (extends with the answer's keys): the same loop, by hand;
        # request() quotes the URL itself (so '%' is written plain)
        n, number = 0, 1
        while True:
            url = (f"{client.baseurl}/module/Accounts?fields[Accounts]={fields}&filter[name][like]={tag}%"
                   f"&page[size]={page}&page[number]={number}")
            data = client.request(url, "get").get("data") or []
            n += len(data)
            if len(data) < page:
                return n
            number += 1
    return run


# --- normalisation -----------------------------------------------------------------------------


def normalisation_us(lab: LabInstance, tag: str, page: int) -> dict[str, float]:
    """µs per record spent building typed records from one captured raw page, per transport."""
    out: dict[str, float] = {}
    rest = lab.transport("rest")
    rest._meta("Accounts")  # noqa: SLF001
    query = f"accounts.name LIKE '{tag} %'"
    entries = rest._call("get_entry_list", ["Accounts", query, "id ASC", 0, rest._select(FIELDS), [], page,  # noqa: SLF001
                                            0, False])["entry_list"]
    out["rest"] = _per_record(lambda: [rest._record("Accounts", e, FIELDS) for e in entries], len(entries))  # noqa: SLF001
    v8 = lab.transport("v8")
    v8.fields("Accounts")
    data, _ = v8._api("GET", "module/Accounts", params={  # noqa: SLF001
        "fields[Accounts]": ",".join(FIELDS), "filter[name][like]": f"{tag} %", "page[size]": str(page),
        "page[number]": "1"})
    items = data["data"]
    out["v8"] = _per_record(lambda: [v8._record("Accounts", i, FIELDS) for i in items], len(items))  # noqa: SLF001
    mysql = lab.transport("mysql")
    q = mysql._query("Accounts", Cond("name", "like", tag + " %"), FIELDS, include_deleted=False)  # noqa: SLF001
    rows = mysql._run(mysql._select_sql(q, []) + f" LIMIT {page}", q.params)  # noqa: SLF001
    out["mysql"] = _per_record(lambda: [mysql._record(q, r) for r in rows], len(rows))  # noqa: SLF001
    for t in (rest, v8, mysql):
        t.close()
    return out


def _per_record(run: Callable[[], object], n: int, rounds: int = 30) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times) / max(n, 1) * 1e6  # the least disturbed round (a shared machine)


# --- writes ------------------------------------------------------------------------------------


def writes(lab: LabInstance, tag: str, n: int) -> list[tuple[str, float, int]]:
    out = []
    rows = [{"name": f"{tag} w{i:03d} O'Brien & <b>Co</b>", "industry": "Energy", "description": "x" * 80}
            for i in range(n)]
    rest, v8 = lab.transport("rest"), lab.transport("v8")
    soap = lab.transport("soap") if lab.soap_patched else None
    for crm in (rest, soap, v8):
        if crm is not None:
            crm.fields("Accounts")
    t0 = time.perf_counter()
    rest.save_many("Accounts", rows)
    out.append(("REST save_many (set_entries)", n / (time.perf_counter() - t0), n))
    t0 = time.perf_counter()
    for row in rows:
        rest.save("Accounts", row)
    out.append(("REST save one by one (naive)", n / (time.perf_counter() - t0), n))
    if soap is not None:
        t0 = time.perf_counter()
        soap.save_many("Accounts", rows)
        out.append(("SOAP save_many (set_entries)", n / (time.perf_counter() - t0), n))
    t0 = time.perf_counter()
    for row in rows:
        v8.save("Accounts", row)
    out.append(("V8 save (one request per record)", n / (time.perf_counter() - t0), n))
    for crm in (rest, soap, v8):
        if crm is not None:
            crm.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default=os.environ.get(LIVE_ENV_VAR), help="lab.sh env file of the instance")
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--page", type=int, default=200)
    ap.add_argument("--writes", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=int, default=60, help="records read one by one by the naive baselines")
    args = ap.parse_args()
    if not args.env:
        sys.exit(f"--env or ${LIVE_ENV_VAR}: the env file printed by lab.sh up")
    lab = read_lab_env(args.env)
    tag = "sxtbench" + uuid.uuid4().hex[:6]
    ids = seed(lab, tag, args.records)
    try:
        print(f"SuiteCRM {lab.url} ({lab.name}), {args.records} Accounts seeded, page size {args.page}, "
              f"{len(FIELDS)} fields, best of {args.repeat}")
        print(f"  {'reads':<46}{'records/s':>12}  {'n':>6}")
        sample = ids[:args.sample]
        results: dict[str, float] = {}
        for flavour, label in (("rest", "REST v4_1"), ("soap", "SOAP v4_1"), ("v8", "V8"),
                               ("mysql", "MySQL (read-only user)")):
            if flavour == "soap" and not lab.soap_patched:
                line(f"{label}: stock nusoap on PHP 8 fails every call (#9741): skipped", None)
                continue
            ours = our_find(lab, flavour, tag, args.page)
            peer = {"rest": peer_sugarcrm, "v8": peer_pysuitecrm}.get(flavour)
            loop = peer(lab, tag, args.page) if peer is not None else None
            if callable(loop):
                (rate, n), (prate, pn) = best_of(args.repeat, ours, loop)
            else:
                rate, n = best(args.repeat, ours)
            results[flavour] = rate
            line(f"{label}: our find", rate, n)
            if flavour == "mysql":
                nrate, nn = best(args.repeat, naive_mysql(lab, tag, args.page))
                line("  naive LIMIT/OFFSET pages, raw tuples", nrate, nn, f"ours {rate / nrate:.2f}x")
            else:
                nrate, nn = best(1, naive_gets(lab, flavour, sample))
                line("  naive: one get per record", nrate, nn, f"ours {rate / nrate:.1f}x")
            if isinstance(loop, str):
                line(f"  peer: {loop}", None)
            elif loop is not None and not pn:
                line(f"  peer: {PEERS[flavour]} read nothing", None)
            elif loop is not None:
                line(f"  peer: {PEERS[flavour]}", prate, pn,
                     f"ours {rate / prate:.2f}x ({'ok' if rate >= prate else 'SLOWER'})")
        print("  normalisation (typed records from a raw page), target <= 20 us/record:")
        for flavour, us in normalisation_us(lab, tag, args.page).items():
            print(f"    {flavour:<8}{us:8.1f} us/record  {'ok' if us <= 20 else 'OVER'}")
        print(f"  {'writes':<46}{'records/s':>12}  {'n':>6}")
        for what, rate, n in writes(lab, tag, args.writes):
            line(what, rate, n)
    finally:
        unseed(lab, tag)


if __name__ == "__main__":
    main()
