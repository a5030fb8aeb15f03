"""A 1C bank-statement import (``suitecrm-ext onec import --file``, API writer) through the fault proxy
into the real SuiteCRM (shared by tests/reliability/test_faults_live.py and bench/reliability.py).

The statement, config and CLI helpers are tests/live/test_onec_live.py's (the same file an admin
imports there without faults). An import whose calls gave up exits non-zero and is run again, as
cron would; afterwards SuiteCRM's DB must hold each payment once, each matched one linked once to its
Account, and one Task for the unmatched payer — and one more run must change nothing.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pymysql
import yaml
from faults import Outcome, db_rows

from suitecrm_ext.lab import LabInstance


def onec_run(kit: Any, lab: LabInstance, proxy_url: str, tag: str, workdir: Path,
             max_runs: int = 4) -> Outcome:
    """Import a statement of 4 payments (3 payers with Accounts) through ``proxy_url``."""
    from test_onec_live import config_file, counts, onec_cli, payers, statement

    kit.install("account_opening")
    kit.install("onec_bridge")
    out = Outcome("1C statement import (API writer)", expected=4)
    inns = payers(4)
    direct = lab.gateway("rest")
    try:
        for i, inn in enumerate(inns[:3]):
            direct.save("Accounts", {"name": f"{tag} onec payer {i}", "ao_inn_c": inn,
                                     "ao_kpp_c": "770101001"})
    finally:
        direct.close()
    path = workdir / "statement.txt"
    path.write_bytes(statement(tag, inns[:3], inns[3], random.randrange(100_000, 900_000)).encode("cp1251"))
    config = config_file(workdir, lab, write="api")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["suitecrm"].update(url=proxy_url, timeout=1.5, retries=10)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    runs = 0
    while True:
        runs += 1
        result = onec_cli(config, "import", "--file", str(path))
        if result.exit_code == 0:
            break
        if runs >= max_runs:
            out.errors.append(f"import failed {runs} times; last: {result.output[-500:]}")
            break
    again = counts(onec_cli(config, "import", "--file", str(path)).output)
    if again.get("unchanged") != 4:
        out.errors.append(f"a re-run after the faulty import changed something: {again}")
    marks = ", ".join(["%s"] * len(inns))
    rows = db_rows(lab, f"SELECT id, payer_inn, status FROM onec_payments WHERE deleted = 0 "
                        f"AND payer_inn IN ({marks})", tuple(inns))
    per_inn: dict[str, int] = {}
    for _, inn, _ in rows:
        per_inn[inn] = per_inn.get(inn, 0) + 1
    out.lost = sum(1 for inn in inns if inn not in per_inn)
    out.duplicated = sum(n - 1 for n in per_inn.values() if n > 1)
    ids = [r[0] for r in rows]
    if ids:
        marks = ", ".join(["%s"] * len(ids))
        table, column = _link()
        links = db_rows(lab, f"SELECT COUNT(*) FROM {table} WHERE deleted = 0 AND {column} IN ({marks})",
                        tuple(ids))[0][0]
        tasks = db_rows(lab, f"SELECT COUNT(*) FROM tasks WHERE deleted = 0 AND parent_id IN ({marks})",
                        tuple(ids))[0][0]
        out.duplicated += max(0, links - 3) + max(0, tasks - 1)
        out.lost += max(0, 3 - links) + max(0, 1 - tasks)
    out.detail.update(runs=runs, inns=inns, ids=ids)
    return out


def _link() -> tuple[str, str]:
    """The Accounts-payments join table and its payment-id column (from the plugin's schema)."""
    from plugins.onec_bridge.writers import LINK
    from suitecrm_ext.testing import load_plugin_schema

    rel = next(r for r in load_plugin_schema("onec_bridge").relationships if r.name == LINK)
    return rel.join_table, rel.join_key_rhs


def cleanup(lab: LabInstance, tag: str, out: Outcome | None) -> None:
    """Remove the import's payments, links, Tasks and the tag's Accounts."""
    con = pymysql.connect(**lab.db_params())
    try:
        with con.cursor() as cur:
            ids = list((out.detail.get("ids") if out else None) or [])
            inns = list((out.detail.get("inns") if out else None) or [])
            if inns:
                marks = ", ".join(["%s"] * len(inns))
                cur.execute(f"SELECT id FROM onec_payments WHERE payer_inn IN ({marks})", inns)
                ids = sorted(set(ids) | {r[0] for r in cur.fetchall()})
            if ids:
                marks = ", ".join(["%s"] * len(ids))
                cur.execute(f"DELETE FROM tasks WHERE parent_id IN ({marks})", ids)
                table, column = _link()
                cur.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)
                cur.execute(f"DELETE FROM onec_payments WHERE id IN ({marks})", ids)
            cur.execute("DELETE c FROM accounts_cstm c JOIN accounts a ON a.id = c.id_c WHERE a.name LIKE %s",
                        (tag + "%",))
            cur.execute("DELETE FROM accounts WHERE name LIKE %s", (tag + "%",))
    finally:
        con.close()
