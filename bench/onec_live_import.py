"""onec_bridge on a real SuiteCRM: one bank statement imported through the API writer with 1, 2, 4, 8
concurrent requests, and through the MySQL writer, end to end as ``onec import --file`` runs it.

    python bench/onec_live_import.py [--env FILE] [--payments 300] [--payers 40] [--parallel 1,2,4,8]

The instance is a lab.sh one (``--env`` or ``$SUITECRM_EXT_LIVE_ENV``) with the onec_bridge and
account_opening packages installed (``suitecrm-ext package install ...``). The bench creates ``--payers``
Accounts with fresh INNs (one more payer has none: its payments stay unmatched and get a Task), writes a
windows-1251 statement with ``--payments`` incoming payments (+10% outgoing ones, skipped) and imports
the same file once per writer setting, each time into an empty Payments table for these payers (the
previous run's payments, links and Tasks removed first) with a fresh state store: parse, match by INN,
look up stored payments, save them, link them to their Accounts, Tasks for the unmatched.

- **API writer**: ``write: api``, ``api_parallel`` = each ``--parallel`` value (1 = one request after the
  other, as before this change), REST v4_1; SuiteCRM's logic hooks, workflows and audit run.
- **MySQL writer**: ``write: mysql``, ``read_via: mysql`` with the app's DB user (bulk upserts into the
  plugin's own tables).

Prints payments/s for each, the API writer's speed-up over one connection, and the MySQL writer's ratio
to the API writer. Cleans up what it made. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=os.environ.get("SUITECRM_EXT_LIVE_ENV"), help="lab.sh env file")
    ap.add_argument("--payments", type=int, default=300)
    ap.add_argument("--payers", type=int, default=40)
    ap.add_argument("--parallel", default="1,2,4,8", help="api_parallel values to measure")
    a = ap.parse_args()
    if not a.env:
        raise SystemExit("give --env (a lab.sh env file) or set $SUITECRM_EXT_LIVE_ENV")

    import pymysql

    import plugins.onec_bridge.plugin as plugin_module
    from plugins.onec_bridge import checks
    from plugins.onec_bridge.service import import_file
    from plugins.onec_bridge.synthetic import company_inn, make_statement
    from plugins.onec_bridge.writers import REL_RHS, REL_TABLE, TABLE
    from suitecrm_ext import AppContext, Cond
    from suitecrm_ext.lab import read_lab_env
    from suitecrm_ext.testing import build_config, build_registry

    lab = read_lab_env(a.env)
    crm = lab.transport("rest")
    needs = checks.payments_module(crm) + checks.inn_kpp_fields(crm, "ao_inn_c", "ao_kpp_c")
    if not all(c.ok for c in needs):
        raise SystemExit("\n".join(c.line() for c in needs if not c.ok))
    tag = f"bench{random.randrange(16 ** 6):06x}"
    rnd = random.Random()
    inns = [company_inn(rnd.randrange(1_000_000, 9_999_999)) for _ in range(a.payers + 1)]
    accounts = crm.save_many("Accounts", [{"name": f"{tag} payer {i}", "ao_inn_c": inn, "ao_kpp_c": ""}
                                          for i, inn in enumerate(inns[:-1])])
    db = pymysql.connect(**lab.db_params())

    def purge() -> None:
        """Remove this bench's payments (the plugin's own tables), their links, audit rows and Tasks."""
        marks = ", ".join(["%s"] * len(inns))
        with db.cursor() as cur:
            cur.execute(f"SELECT id FROM {TABLE} WHERE payer_inn IN ({marks})", inns)
            ids = [r[0] for r in cur.fetchall()]
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for task in crm.find("Tasks", Cond("parent_id", "in", part), fields=["id"]):
                crm.delete("Tasks", task.id)
            pm = ", ".join(["%s"] * len(part))
            with db.cursor() as cur:
                cur.execute(f"DELETE FROM {REL_TABLE} WHERE {REL_RHS} IN ({pm})", part)
                cur.execute(f"DELETE FROM {TABLE}_audit WHERE parent_id IN ({pm})", part)
                cur.execute(f"DELETE FROM {TABLE} WHERE id IN ({pm})", part)

    def run(tmp: Path, path: Path, name: str, **plugin: object) -> tuple[float, dict]:
        if plugin.get("write") == "mysql":
            suitecrm = lab.suitecrm_section("rest", read_via="mysql", mysql=False)
            suitecrm["mysql"] = lab.mysql_section(read_only=False)
        else:
            suitecrm = lab.suitecrm_section("rest")
        config = build_config(plugins={"onec_bridge": {"task_user_id": "1", "batch_size": 500, **plugin}},
                              suitecrm=suitecrm,
                              state={"backend": "sqlite", "path": str(tmp / f"state-{name}.sqlite3")})
        # the real gateway from the config, as the command line builds it
        app = AppContext(config, plugin_manager=build_registry({"onec_bridge": plugin_module}, config=config))
        try:
            t0 = time.perf_counter()
            summary = import_file(app.for_plugin("onec_bridge"), path)
            return time.perf_counter() - t0, summary.as_dict()
        finally:
            app.close()

    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            path = tmp / "statement.txt"
            path.write_bytes(make_statement(a.payments, inns))
            print(f"SuiteCRM {lab.url} ({lab.name}); {a.payments} payments from {len(inns)} payers "
                  f"({a.payers} with an Account), windows-1251, {path.stat().st_size / 1e3:.0f} kB; "
                  f"{os.cpu_count()} CPUs shared by SuiteCRM, MariaDB and the sidecar (load average "
                  f"{os.getloadavg()[0]:.1f} at the start)")
            results: dict[str, float] = {}
            for p in [int(x) for x in a.parallel.split(",")]:
                purge()
                seconds, s = run(tmp, path, f"api{p}", write="api", api_parallel=p)
                rate = a.payments / seconds
                results[f"api{p}"] = rate
                label = f"{p} connection{'s' if p > 1 else ' '}"
                print(f"api writer, {label}: {a.payments} payments in {seconds:6.1f} s = {rate:6.1f} "
                      f"payments/s (new {s['new']}, matched {s['matched']}, unmatched {s['unmatched']}, "
                      f"tasks {s['tasks']})")
            purge()
            seconds, s = run(tmp, path, "mysql", write="mysql")
            mysql_rate = a.payments / seconds
            print(f"mysql writer          : {a.payments} payments in {seconds:6.1f} s = {mysql_rate:6.1f} "
                  f"payments/s (new {s['new']}, matched {s['matched']}, unmatched {s['unmatched']}, "
                  f"tasks {s['tasks']})")
            base = results.get("api1")
            best = max(results, key=results.get)
            if base:
                for key, rate in results.items():
                    if key != "api1":
                        print(f"speed-up        : api writer with {key[3:]} connections = {rate / base:.2f}x "
                              f"one connection")
            print(f"load average    : {os.getloadavg()[0]:.1f} at the end")
            print(f"ratio           : mysql writer = {mysql_rate / results[best]:.1f}x the api writer at its "
                  f"best ({best[3:]} connections)" + (f", {mysql_rate / base:.1f}x with one connection"
                                                       if base else ""))
    finally:
        purge()
        for rid in accounts:
            crm.delete("Accounts", rid)
        crm.close()
        db.close()


if __name__ == "__main__":
    main()
