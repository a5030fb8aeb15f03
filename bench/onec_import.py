"""onec_bridge: importing a big bank statement into MariaDB through the bulk path, vs a naive baseline.

    python bench/onec_import.py [--payments 100000] [--payers 1000] [--naive 5000] [--batch 1000]

Builds a throw-away MariaDB database ($SUITECRM_EXT_TEST_MYSQL_DSN, else a private server started the
way the tests do) with the SuiteCRM-shaped schema, the plugin's tables (from its schema.yaml) and
``--payers`` Accounts with INNs (99% of the payers; the rest stay unmatched and get a Task), writes a
1CClientBankExchange file (windows-1251) with ``--payments`` incoming payments (+10% outgoing ones the
importer skips), then measures in a fresh child process each:

- **bulk, end to end**: read the file, parse it, load the Accounts by INN, match, look up stored
  payments, upsert payments + relationship rows through ``OwnedTableWriter`` in batches, Tasks for the
  unmatched (FakeCRM standing in for the API), resumable cursor in a SQLite state store;
- **bulk re-run**: the same file again (everything found unchanged; nothing written);
- **naive baseline**: one INSERT of the payment + one of its relationship row + one COMMIT per payment,
  as a per-record API loop does, on the first ``--naive`` payments (already parsed and matched, so the
  baseline is not charged for parsing), extrapolated to payments/s.

Prints payments/s, peak RSS of each child, and the ratio bulk / naive. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "onec_bridge"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

SCHEMA = ROOT / "tests" / "fixtures" / "suitecrm_schema.sql"


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it is not inherited from the parent across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(server, payers: int, matched_share: float = 0.99) -> tuple[str, list[str]]:
    """A database with SuiteCRM's tables, the plugin's tables and Accounts for most payers."""
    from mysqlkit import add_accounts, install_tables

    from plugins.onec_bridge.synthetic import company_inn

    db = server.create_database(prefix="sxtbench")
    text = SCHEMA.read_text(encoding="utf-8")
    with server.connect(db) as conn:
        with conn.cursor() as cur:
            for stmt in text.split(";\n"):
                stmt = stmt.strip()
                if stmt and not all(line.startswith("--") for line in stmt.splitlines()):
                    cur.execute(stmt)
        install_tables(conn)
        inns = [company_inn(i) for i in range(payers)]
        with_account = inns[: int(payers * matched_share)]
        add_accounts(conn, [(f"bench-acc-{i:06d}", f"Payer {i}", inn, "")
                            for i, inn in enumerate(with_account)])
    return db, inns


def child_bulk(params: dict, path: str, state: str, batch: int) -> dict:
    """Runs in a fresh process: the whole import, timed."""
    from mysqlkit import SplitCRM

    from plugins.onec_bridge.importer import ImportOptions, PaymentImporter
    from plugins.onec_bridge.service import file_digest
    from plugins.onec_bridge.statement import parse_statement_file
    from plugins.onec_bridge.writers import REL_TABLE, TABLE, MySQLPaymentWriter
    from suitecrm_ext.crm.mysql import MySQLCRM
    from suitecrm_ext.state.sqlite import SQLiteStore

    t0 = time.perf_counter()
    c0 = time.process_time()
    statement = parse_statement_file(path)
    t_parse = time.perf_counter() - t0
    mysql = MySQLCRM(**params)
    owned = mysql.owned_writer([TABLE, REL_TABLE])
    writer = MySQLPaymentWriter(mysql, owned)
    importer = PaymentImporter(SplitCRM(mysql), writer, ImportOptions(batch_size=batch),
                               state=SQLiteStore(state))
    summary = importer.run(statement.payments, skipped=statement.outgoing,
                           cursor="onec_bridge.file." + file_digest(Path(path)))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "parse_seconds": t_parse, "summary": summary.as_dict(),
            "rss_mb": peak_rss_mb(), "cpu_seconds": time.process_time() - c0}


def child_naive(params: dict, path: str, n: int) -> dict:
    """Runs in a fresh process: one INSERT + one COMMIT per payment (first ``n`` payments)."""
    import datetime as dt

    import pymysql

    from plugins.onec_bridge.importer import ImportOptions, PaymentImporter
    from plugins.onec_bridge.matching import AccountIndex
    from plugins.onec_bridge.payment import record_id
    from plugins.onec_bridge.statement import parse_statement_file
    from plugins.onec_bridge.writers import FIELDS, REL_LHS, REL_RHS, REL_TABLE, TABLE
    from suitecrm_ext.crm.mysql import MySQLCRM

    payments = parse_statement_file(path).payments[:n]
    mysql = MySQLCRM(**params)
    index = AccountIndex.load(mysql, {p.payer_inn for p in payments})
    importer = PaymentImporter(mysql, None, ImportOptions())
    prepared = []
    for p in payments:
        match = index.match(p.payer_inn, p.payer_kpp)
        prepared.append((p, importer.row(p, match), match.account.id if match.account else None))
    conn = pymysql.connect(**{k: v for k, v in params.items()}, charset="utf8mb4", autocommit=False)
    cols = ["id", *FIELDS, "date_entered", "date_modified", "created_by", "modified_user_id", "deleted"]
    sql = f"INSERT INTO {TABLE} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    rel_sql = (f"INSERT INTO {REL_TABLE} (id, date_modified, deleted, {REL_LHS}, {REL_RHS}) "
               f"VALUES (%s, %s, 0, %s, %s)")
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for p, row, acc in prepared:
            now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            rid = "naive" + record_id(p.key)[5:]
            cur.execute(sql, [rid, *(row[f] for f in FIELDS), now, now, "1", "1", 0])
            if acc:
                cur.execute(rel_sql, ["naive" + record_id("rel:" + rid)[5:], now, acc, rid])
            conn.commit()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "payments": len(prepared),
            "rss_mb": peak_rss_mb()}


def server_cpu(server) -> float | None:
    """CPU seconds the private MariaDB server has used so far (None for a server given by DSN)."""
    proc = getattr(server, "_proc", None)
    if proc is None:
        return None
    with open(f"/proc/{proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payments", type=int, default=100_000)
    ap.add_argument("--payers", type=int, default=1000)
    ap.add_argument("--naive", type=int, default=5000, help="payments in the naive baseline run")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kind, params, *rest = a.child
        result = (child_bulk(json.loads(params), rest[0], rest[1], int(rest[2]))
                  if kind == "bulk"
                  else child_naive(json.loads(params), rest[0], int(rest[1])))
        print(json.dumps(result))
        return

    from mariadb import DSN_ENV, get_server

    from plugins.onec_bridge.synthetic import make_statement

    server = get_server()
    try:
        with server.connect() as conn, conn.cursor() as cur:
            if not os.environ.get(DSN_ENV):
                # the throw-away test server runs with =2 (no fsync per commit) to speed tests up;
                # measure at MariaDB's default, durable setting, as a production server runs
                cur.execute("SET GLOBAL innodb_flush_log_at_trx_commit = 1")
            cur.execute("SELECT @@innodb_flush_log_at_trx_commit")
            print(f"MariaDB innodb_flush_log_at_trx_commit = {cur.fetchone()[0]}")
        db, inns = prepare(server, a.payers)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "statement.txt"
            t0 = time.perf_counter()
            path.write_bytes(make_statement(a.payments, inns))
            print(f"generated {a.payments:,} payments ({path.stat().st_size / 1e6:.1f} MB, windows-1251) "
                  f"in {time.perf_counter() - t0:.1f} s")
            params = json.dumps(server.params(db))
            state = str(Path(tmp) / "state.sqlite3")
            cpu0 = server_cpu(server)
            bulk = run_child("bulk", params, str(path), state, str(a.batch))
            cpu1 = server_cpu(server)
            rerun = run_child("bulk", params, str(path), state, str(a.batch))
            naive = run_child("naive", params, str(path), str(a.naive))
        s = bulk["summary"]
        bulk_rate = a.payments / bulk["seconds"]
        rerun_rate = a.payments / rerun["seconds"]
        naive_rate = naive["payments"] / naive["seconds"]
        print(f"bulk import     : {a.payments:,} payments in {bulk['seconds']:.2f} s "
              f"(parse {bulk['parse_seconds']:.2f} s) = {bulk_rate:,.0f} payments/s, "
              f"peak RSS {bulk['rss_mb']:.0f} MB")
        print(f"                  new {s['new']:,}, matched {s['matched']:,}, unmatched {s['unmatched']:,}, "
              f"skipped {s['skipped']:,}, tasks {s['tasks']:,}")
        where = (f"                  where the time goes: parse {bulk['parse_seconds']:.2f} s, Python CPU "
                 f"after parsing {bulk['cpu_seconds'] - bulk['parse_seconds']:.2f} s")
        if cpu0 is not None and cpu1 is not None:
            where += f", MariaDB CPU {cpu1 - cpu0:.2f} s (its own process: may overlap the Python side)"
        print(where)
        print(f"bulk re-run     : {a.payments:,} payments in {rerun['seconds']:.2f} s = {rerun_rate:,.0f} "
              f"payments/s (unchanged {rerun['summary']['unchanged']:,}), peak RSS {rerun['rss_mb']:.0f} MB")
        print(f"naive baseline  : {naive['payments']:,} payments, one INSERT + COMMIT each, in "
              f"{naive['seconds']:.2f} s = {naive_rate:,.0f} payments/s (extrapolated: "
              f"{a.payments / naive_rate:,.0f} s for {a.payments:,}), peak RSS {naive['rss_mb']:.0f} MB")
        print(f"ratio           : bulk end to end is {bulk_rate / naive_rate:.1f}x the naive baseline "
              f"(target >= 20x; >= 5,000 payments/s: {'yes' if bulk_rate >= 5000 else 'NO'})")
        server.drop_database(db)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
