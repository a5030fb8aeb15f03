"""onec_bridge on a real SuiteCRM: one bank statement imported through the API writer with 1, 2, 4, 8
concurrent requests, and through the MySQL writer, end to end as ``onec import --file`` runs it.

    python bench/onec_live_import.py [--env FILE] [--payments 300] [--payers 40] [--parallel 1,2,4,8]
                                     [--indexed-too] [--rounds 1]

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

- ``--indexed-too``: each API setting is also run with the Payments module in SuiteCRM's global search
  and so in AOD's Lucene index, as packages before 0.3.0 had it (``unified_search`` true): the bench flips
  that line of the installed ``modules/onec_Payments/vardefs.php`` for those turns (and drops SuiteCRM's
  vardef cache), then puts it back. Indexed and not-indexed turns alternate, so a change of host load
  hits both alike.
- ``--rounds N``: every setting N times, in turns; the median of each is compared.

Prints payments/s for each run, the API writer's speed-up over one connection, the AOD index's cost, and
the MySQL writer's ratio to the API writer. Cleans up what it made. Not part of the test run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import statistics
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
    ap.add_argument("--indexed-too", action="store_true",
                    help="also measure with the Payments module in AOD's index (as packages before 0.3.0)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of every setting, in turns")
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
            settings = [(p, indexed) for p in [int(x) for x in a.parallel.split(",")]
                        for indexed in ((False, True) if a.indexed_too else (False,))]
            rates: dict[tuple[int, bool], list[float]] = {k: [] for k in settings}
            for n in range(a.rounds):
                # later rounds go the other way round, so no setting always runs first
                for p, indexed in (settings if n % 2 == 0 else settings[::-1]):
                    purge()
                    with aod_indexed(lab.root, indexed):
                        seconds, s = run(tmp, path, f"api{p}{indexed}", write="api", api_parallel=p)
                    rate = a.payments / seconds
                    rates[(p, indexed)].append(rate)
                    label = f"{p} connection{'s' if p > 1 else ' '}" + (", AOD-indexed" if indexed else "")
                    print(f"api writer, {label:<27}: {a.payments} payments in {seconds:6.1f} s = {rate:6.1f} "
                          f"payments/s (new {s['new']}, matched {s['matched']}, unmatched {s['unmatched']}, "
                          f"tasks {s['tasks']}; load {os.getloadavg()[0]:.1f})", flush=True)
            purge()
            seconds, s = run(tmp, path, "mysql", write="mysql")
            mysql_rate = a.payments / seconds
            print(f"mysql writer{'':<18}: {a.payments} payments in {seconds:6.1f} s = {mysql_rate:6.1f} "
                  f"payments/s (new {s['new']}, matched {s['matched']}, unmatched {s['unmatched']}, "
                  f"tasks {s['tasks']})")
            median = {k: statistics.median(v) for k, v in rates.items()}
            results = {p: r for (p, indexed), r in median.items() if not indexed}
            base = results.get(1)
            best = max(results, key=results.get)
            what = f"median of {a.rounds}" if a.rounds > 1 else "one run"
            if base:
                for p, rate in results.items():
                    if p != 1:
                        print(f"speed-up        : api writer with {p} connections = {rate / base:.2f}x one "
                              f"connection ({what})")
            for (p, indexed), rate in median.items():
                if indexed:
                    print(f"AOD index       : with {p} connection{'s' if p > 1 else ''}, out of the index = "
                          f"{results[p] / rate:.2f}x the speed of in the index ({what})")
            print(f"load average    : {os.getloadavg()[0]:.1f} at the end")
            print(f"ratio           : mysql writer = {mysql_rate / results[best]:.1f}x the api writer at its "
                  f"best ({best} connections)" + (f", {mysql_rate / base:.1f}x with one connection"
                                                  if base else ""))
    finally:
        purge()
        for rid in accounts:
            crm.delete("Accounts", rid)
        crm.close()
        db.close()


@contextlib.contextmanager
def aod_indexed(root: Path, on: bool):
    """With ``on``: the installed Payments module in the global search and so in AOD's index (as packages
    before 0.3.0 built it) until the block ends; SuiteCRM's vardef cache is dropped both ways."""
    if not on:
        yield
        return
    vardefs = Path(root) / "modules" / "onec_Payments" / "vardefs.php"
    cache = Path(root) / "cache" / "modules" / "onec_Payments" / "onec_Paymentsvardefs.php"
    text = vardefs.read_text(encoding="utf-8")
    flipped, n = re.subn(r"^  'unified_search' => false,$", "  'unified_search' => true,", text, flags=re.M)
    if n != 1:
        raise SystemExit(f"{vardefs}: no module-level 'unified_search' => false line (package 0.3.0?)")
    try:
        vardefs.write_text(flipped, encoding="utf-8")
        cache.unlink(missing_ok=True)
        time.sleep(3)  # PHP's opcache revalidates a file's timestamp every 2 s
        yield
    finally:
        vardefs.write_text(text, encoding="utf-8")
        cache.unlink(missing_ok=True)
        time.sleep(3)


if __name__ == "__main__":
    main()
