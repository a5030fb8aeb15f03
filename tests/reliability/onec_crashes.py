"""Seeded kill -9 rounds of a 1C bank-statement import (``suitecrm-ext onec import --file``, API
writer) against the real SuiteCRM (shared by tests/reliability/test_crashes_live.py and
bench/reliability.py).

First a reference: a statement of ``payers`` payments (all but one payer with an Account) is imported
once, uninterrupted, as its own process (``batch_size`` small, so the import commits in several
batches, each followed by its links, Tasks and cursor); its wall time sets the window of the kills.
Then per round a statement of the same shape (other payers, other Accounts) is imported as a fresh
process and killed with SIGKILL after a seeded random delay inside that window (an import that ends
before its kill counts as a miss, and the round is tried again with a fresh statement and a delay
inside that import's own time, up to three times), from shortly before
the reference stored its first payment to its end (while it matches, writes a batch, links or makes
Tasks; not mostly in Python's start-up), then imported again to the end with the same state
file, as cron's next run would. SuiteCRM's DB must then hold, payment by payment, what the
uninterrupted run left: each payment once with the same status, one Account link per matched
payment, one Task for the unmatched one — and one more import must change nothing.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pymysql
from faults import Outcome, db_rows
from onec_faults import _link

from suitecrm_ext.lab import LabInstance


def _import(config: Path, path: Path, workdir: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from suitecrm_ext.cli import main; main()", "--config", str(config),
           "onec", "import", "--file", str(path)]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=workdir, env={**os.environ, "COLUMNS": "200"})


def _state(lab: LabInstance, inns: list[str]) -> list[tuple[Any, ...]]:
    """Per payment (ordered by amount): amount, status, Account links, Tasks — and the payments per INN."""
    marks = ", ".join(["%s"] * len(inns))
    rows = db_rows(lab, f"SELECT id, payer_inn, amount, status FROM onec_payments WHERE deleted = 0 "
                        f"AND payer_inn IN ({marks}) ORDER BY amount", tuple(inns))
    table, column = _link()
    out = []
    for rid, inn, amount, status in rows:
        links = db_rows(lab, f"SELECT COUNT(*) FROM {table} WHERE deleted = 0 AND {column} = %s",
                        (rid,))[0][0]
        tasks = db_rows(lab, "SELECT COUNT(*) FROM tasks WHERE deleted = 0 AND parent_id = %s",
                        (rid,))[0][0]
        out.append((inns.index(inn), f"{amount:.2f}", status, links, tasks))
    return out


def _count(lab: LabInstance, inns: list[str]) -> int:
    marks = ", ".join(["%s"] * len(inns))
    return db_rows(lab, f"SELECT COUNT(*) FROM onec_payments WHERE deleted = 0 AND payer_inn IN ({marks})",
                   tuple(inns))[0][0]


def _prepare(lab: LabInstance, tag: str, workdir: Path, n: int,
             batch_size: int) -> tuple[list[str], Path, Path]:
    from test_onec_live import config_file, payers, statement

    workdir.mkdir(parents=True, exist_ok=True)
    inns = payers(n)
    direct = lab.gateway("rest")
    try:
        for i, inn in enumerate(inns[:-1]):
            direct.save("Accounts", {"name": f"{tag} onec payer {i}", "ao_inn_c": inn,
                                     "ao_kpp_c": "770101001"})
    finally:
        direct.close()
    path = workdir / "statement.txt"
    path.write_bytes(statement(tag, inns[:-1], inns[-1], random.randrange(100_000, 900_000)).encode("cp1251"))
    return inns, path, config_file(workdir, lab, write="api", batch_size=batch_size)


def onec_kill_rounds(kit: Any, lab: LabInstance, tag: str, workdir: Path, *, rounds: int = 3, seed: int = 18,
                     payers: int = 4, batch_size: int = 2, timeout: float = 300.0) -> Outcome:
    """The reference import, then per round a statement of the same shape killed once at a seeded
    moment, imported again to the end and once more (which must change nothing)."""
    from test_onec_live import counts

    kit.install("account_opening")
    kit.install("onec_bridge")
    rng = random.Random(seed)
    out = Outcome("kill -9 of a 1C statement import (API writer)", expected=payers * (rounds + 1))
    out.detail.update(inns=[], crashes=0, written_at_kill=[], rerun={})
    ref_inns, ref_path, ref_config = _prepare(lab, tag + "r", workdir / "reference", payers, batch_size)
    out.detail["inns"] += ref_inns
    t0 = time.monotonic()
    proc = _import(ref_config, ref_path, workdir)
    first = last = None  # when the first and the last payment were stored (seconds after the start)
    while proc.poll() is None and time.monotonic() - t0 < timeout:
        stored = _count(lab, ref_inns)
        now = time.monotonic() - t0
        first = first if first is not None or not stored else now
        last = last if last is not None or stored < payers else now
        time.sleep(0.05)
    log, _ = proc.communicate(timeout=timeout)
    window = time.monotonic() - t0
    # the kills fall between shortly before the first write and the end (Python's start-up and the
    # login before it would take most kills otherwise)
    low = max(0.2, (first if first is not None else 0.2) - 0.3)
    if proc.returncode != 0:
        out.errors.append(f"the uninterrupted import failed:\n{log[-1500:]}")
        return out
    reference = _state(lab, ref_inns)
    out.detail.update(window=window, reference=reference, first_write=first, last_write=last)
    out.detail["misses"] = 0
    for r in range(rounds):
        high = window
        for attempt in range(3):  # a host busier or idler than during the reference can outrun the kill
            label = f"{tag}k{r}" + (f"m{attempt}" if attempt else "")
            inns, path, config = _prepare(lab, label, workdir / f"killed-{r}-{attempt}", payers, batch_size)
            out.detail["inns"] += inns
            started = time.monotonic()
            proc = _import(config, path, workdir)
            try:
                proc.wait(timeout=rng.uniform(low, max(low, high)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                out.detail["crashes"] += 1
                out.detail["written_at_kill"].append(_count(lab, inns))
                proc.stdout.close()
                break
            proc.stdout.close()
            # it ended before the kill: one more uninterrupted import, held to the reference too; draw
            # again, inside the time this one took
            out.detail["misses"] += 1
            high = min(high, time.monotonic() - started)
            if proc.returncode != 0:
                out.errors.append(f"round {r}: an import not killed failed (exit {proc.returncode})")
            _compare(_state(lab, inns), reference, payers, out, f"round {r}, import {attempt} (not killed)")
        for attempt in ("the import after the kill", "one more import"):
            proc = _import(config, path, workdir)
            log, _ = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                out.errors.append(f"round {r}: {attempt} failed:\n{log[-1500:]}")
        rerun = counts(log)
        out.detail["rerun"] = rerun
        if rerun.get("unchanged") != payers or rerun.get("tasks created"):
            out.errors.append(f"round {r}: one more import after the kill changed something: {rerun}")
        _compare(_state(lab, inns), reference, payers, out, f"round {r}")
    return out


def _compare(got: list[tuple[Any, ...]], reference: list[tuple[Any, ...]], payers: int, out: Outcome,
             label: str) -> None:
    """Payment by payment against the uninterrupted run: once each, same amount and status, the same
    Account links and Tasks (fewer count as lost, more as duplicated)."""
    per_inn: dict[int, int] = {}
    for idx, *_ in got:
        per_inn[idx] = per_inn.get(idx, 0) + 1
    out.lost += sum(1 for i in range(payers) if i not in per_inn)
    out.duplicated += sum(c - 1 for c in per_inn.values() if c > 1)
    ref_by = {r[0]: r for r in reference}
    for r in got:
        want = ref_by.get(r[0])
        if want is None or r[1:3] != want[1:3]:
            out.errors.append(f"{label}: payment {r[0]}: {r[1:3]} where the uninterrupted run has "
                              f"{want and want[1:3]}")
            continue
        out.lost += max(0, want[3] - r[3]) + max(0, want[4] - r[4])
        out.duplicated += max(0, r[3] - want[3]) + max(0, r[4] - want[4])
    out.detail.setdefault("equal", []).append(got == reference)


def cleanup(lab: LabInstance, tag: str, out: Outcome | None) -> None:
    """Remove both imports' payments, links, Tasks and the tag's Accounts."""
    con = pymysql.connect(**lab.db_params())
    try:
        with con.cursor() as cur:
            inns = list((out.detail.get("inns") if out else None) or [])
            if inns:
                marks = ", ".join(["%s"] * len(inns))
                cur.execute(f"SELECT id FROM onec_payments WHERE payer_inn IN ({marks})", inns)
                ids = [r[0] for r in cur.fetchall()]
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
