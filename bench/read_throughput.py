"""Read throughput of the MySQL transport through the gateway: keyset paging vs naive LIMIT/OFFSET.

    python bench/read_throughput.py [--sizes 10000,100000] [--page-size 1000] [--with-index]

Loads N Accounts rows (+ accounts_cstm rows, SuiteCRM-shaped schema of tests/fixtures) into a throw-away
MariaDB database ($SUITECRM_EXT_TEST_MYSQL_DSN, else a private server started like the tests do), with
many rows sharing one ``date_modified`` second, then reads every row:

- **keyset**: ``build_gateway`` with ``read_via: mysql`` → ``find("Accounts")`` (default order: keyset on
  the primary key ``id``) and ``find("Accounts", order="date_modified")`` (keyset on ``(date_modified, id)``),
  records normalised;
- **OFFSET**: the same SELECT, join and Record building in the same order, paged with
  ``ORDER BY ... LIMIT page OFFSET k`` (what a straightforward implementation does).

Each read runs in a fresh child process, which reports its rows/s, its peak RSS and how much the RSS grew
during the read (high-water mark after minus RSS before): memory must stay flat as N grows.
``--with-index`` adds an index on ``accounts(date_modified, id)`` (stock SuiteCRM has none) and repeats.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

SCHEMA = ROOT / "tests" / "fixtures" / "suitecrm_schema.sql"


def rss_now_kb() -> int:
    """Current resident set size of this process, in KiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def load(server, n: int, with_index: bool) -> str:
    """A fresh database with the schema and ``n`` accounts (+ _cstm), 50 rows per date_modified second."""
    db = server.create_database(prefix="sxtbench")
    text = SCHEMA.read_text(encoding="utf-8")
    base = dt.datetime(2026, 1, 1)
    with server.connect(db) as conn, conn.cursor() as cur:
        for stmt in text.split(";\n"):
            stmt = stmt.strip()
            if stmt and not all(line.startswith("--") for line in stmt.splitlines()):
                cur.execute(stmt)
        if with_index:
            cur.execute("CREATE INDEX idx_bench_dm_id ON accounts (date_modified, id)")
        batch = 5000
        for start in range(0, n, batch):
            rows, cstm = [], []
            for i in range(start, min(n, start + batch)):
                aid = f"{i * 2654435761 % 2**32:08x}-be0c-0000-0000-{i:012d}"  # ids not in time order
                when = base + dt.timedelta(seconds=i // 50)
                rows.append((aid, f"Account {i}", when, when, "1", "1", "Customer", "Moscow", 0))
                cstm.append((aid, f"Street {i}", 55.75, 37.61))
            cur.executemany(
                "INSERT INTO accounts (id, name, date_entered, date_modified, created_by, modified_user_id,"
                " account_type, billing_address_city, deleted) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows)
            cur.executemany("INSERT INTO accounts_cstm (id_c, jjwg_maps_address_c, jjwg_maps_lat_c,"
                            " jjwg_maps_lng_c) VALUES (%s, %s, %s, %s)", cstm)
    return db


def child(method: str, params: dict, page_size: int) -> dict:
    """Run one full read in this process; report rows, seconds and memory."""
    from suitecrm_ext.crm.gateway import build_gateway
    from suitecrm_ext.testing import build_config

    cfg = build_config(suitecrm={"url": "http://unused.invalid", "read_via": "mysql",
                                 "rest": {"username": "unused", "password": "unused"},
                                 "mysql": {**params, "page_size": page_size}})
    gw = build_gateway(cfg.settings.suitecrm)
    mysql = gw.reader
    mysql.fields("Accounts")  # metadata warm-up, outside the timing
    before = rss_now_kb()
    t0 = time.perf_counter()
    rows = 0
    ids = set() if method.startswith("verify") else None
    order = "date_modified" if method.endswith("_dm") else None
    if not method.startswith("offset"):
        for rec in gw.find("Accounts", order=order):
            rows += 1
            if ids is not None:
                ids.add(rec.id)
    else:  # naive OFFSET paging, same SELECT and record building
        q = mysql._query("Accounts", None, None, include_deleted=False)
        keys = mysql._order(q, order)
        base = mysql._select_sql(q, keys) + " ORDER BY " + ", ".join(f"{k[0]} ASC" for k in keys)
        offset = 0
        while True:
            page = mysql._run(f"{base} LIMIT {page_size} OFFSET {offset}", q.params)
            for row in page:
                mysql._record(q, row)
                rows += 1
            if len(page) < page_size:
                break
            offset += page_size
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gw.close()
    out = {"rows": rows, "seconds": seconds, "peak_rss_kb": peak, "growth_kb": max(0, peak - before)}
    if ids is not None:
        out["distinct"] = len(ids)
    return out


def run_child(method: str, params: dict, page_size: int) -> dict:
    env = {**os.environ, "BENCH_PARAMS": json.dumps(params)}
    res = subprocess.run([sys.executable, __file__, "--child", method, "--page-size", str(page_size)],
                         env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"child {method} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--with-index", action="store_true")
    ap.add_argument("--child", choices=["keyset_id", "keyset_dm", "offset_id", "offset_dm", "verify_id",
                                        "verify_dm"])
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, json.loads(os.environ["BENCH_PARAMS"]), args.page_size)))
        return

    from mariadb import get_server

    server = get_server()
    try:
        variants = [False, True] if args.with_index else [False]
        print(f"MySQL read throughput, page_size {args.page_size}; each read in a fresh process")
        print(f"{'schema':<24}{'order':<15}{'rows':>7}  {'keyset rows/s':>13}{'peak RSS':>10}"
              f"{'RSS growth':>11}  {'OFFSET rows/s':>13}{'peak RSS':>10}{'RSS growth':>11}  {'speed-up':>8}")
        for with_index in variants:
            label = "stock SuiteCRM schema" if not with_index else "+ idx(date_modified,id)"
            for n in (int(x) for x in args.sizes.split(",")):
                db = load(server, n, with_index)
                try:
                    params = {k: v for k, v in server.params(db).items()}
                    for order in ("id", "dm"):
                        if with_index and order == "id":
                            continue  # the index only changes date_modified reads
                        check = run_child(f"verify_{order}", params, args.page_size)
                        assert check["rows"] == check["distinct"] == n, check
                        g = run_child(f"keyset_{order}", params, args.page_size)
                        b = run_child(f"offset_{order}", params, args.page_size)
                        assert g["rows"] == b["rows"] == n
                        grs, brs = n / g["seconds"], n / b["seconds"]
                        name = "id (default)" if order == "id" else "date_modified"
                        print(f"{label:<24}{name:<15}{n:>7}  {grs:>13,.0f}{g['peak_rss_kb'] / 1024:>8.1f}MB"
                              f"{g['growth_kb'] / 1024:>9.1f}MB  {brs:>13,.0f}"
                              f"{b['peak_rss_kb'] / 1024:>8.1f}MB{b['growth_kb'] / 1024:>9.1f}MB"
                              f"  {grs / brs:>7.1f}x", flush=True)
                finally:
                    server.drop_database(db)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
