"""portal_sync between two real SuiteCRMs with a fault proxy on each side (shared by
tests/reliability/test_faults_live.py and bench/reliability.py).

The internal CRM (``lab``) and the portal (``portal``) are reached through their own
:class:`~faultproxy.FaultProxy` (seeded, 30 % faults by default); the plugin runs in-process as in
tests/live/test_portal_sync_live.py (its ``LiveSidecar``: the core change feed over the internal CRM's
MySQL, the dispatcher, the ``portal-sync`` job). The direction covered is internal → portal:
organisations are published (Account, its security group, its Contact, as ``portal resync`` and an
invitation do), then the managers change them in the internal CRM and the feed carries the changes out.
A call that gave up is repeated, as the job's next run or the dispatcher's retry would. Afterwards the
portal's database (read directly) must hold each Account, Contact and group exactly once with the
internal CRM's last values, and nothing may be dead-lettered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faultproxy import FaultProxy
from faults import Outcome, db_rows

from suitecrm_ext.crm.base import TransientError
from suitecrm_ext.lab import LabInstance


@dataclass
class _Proxied(LabInstance):
    """The instance, reached through a proxy (short timeout so a stall is a timeout, more retries)."""

    proxy_url: str = ""

    def suitecrm_section(self, *args: Any, **kw: Any) -> dict[str, Any]:
        sec = super().suitecrm_section(*args, **kw)
        sec.update(url=self.proxy_url, timeout=1.5, retries=10)
        return sec


def _port(lab: LabInstance) -> int:
    return int(lab.url.rsplit(":", 1)[1])


def _again(call: Any, out: Outcome, tries: int = 10) -> Any:
    for _ in range(tries):
        try:
            return call()
        except TransientError:
            out.detail["gave_up"] = out.detail.get("gave_up", 0) + 1
    out.errors.append(f"{call} gave up {tries} times")
    return None


def portal_run(kit: Any, lab: LabInstance, portal: LabInstance, tag: str, workdir: Path, *,
               rate: float = 0.3, seed: int = 18, n: int = 3, timeout: float = 240.0) -> Outcome:
    """Publish ``n`` organisations and change each once, all through the two proxies."""
    from test_portal_sync_live import LiveSidecar

    kit.install("portal_sync")
    out = Outcome("portal sync internal -> portal (both sides)", expected=3 * n)
    direct = lab.gateway("rest")
    accs, cids = [], []
    try:
        for i in range(n):
            accs.append(direct.save("Accounts", {"name": f"{tag} portal org {i}"}))
            cids.append(direct.save("Contacts", {"first_name": "Иван", "last_name": f"{tag} portal {i}",
                                                 "email1": f"{tag}.{i}@example.com"}))
            direct.relate("Contacts", cids[-1], "accounts", [accs[-1]])
    finally:
        direct.close()
    out.detail.update(accounts=accs, contacts=cids)
    with FaultProxy(_port(lab), rate=rate, seed=seed, stall_seconds=2.0) as pi, \
            FaultProxy(_port(portal), rate=rate, seed=seed + 1, stall_seconds=2.0) as pp:
        sc = LiveSidecar(workdir, _Proxied(lab.path, lab.env, proxy_url=pi.url),
                         _Proxied(portal.path, portal.env, proxy_url=pp.url), tag)
        try:
            for acc, cid in zip(accs, cids, strict=True):
                _again(lambda a=acc: sc.sync.orgs.ensure_group(a), out)
                _again(lambda c=cid, a=acc: sc.sync.orgs.publish_contact(c, a), out)
            sc.feed.poll_once()  # the feed's cursor, before the managers' changes
            direct = lab.gateway("rest")
            try:
                for i, (acc, cid) in enumerate(zip(accs, cids, strict=True)):
                    direct.save("Accounts", {"id": acc, "website": f"https://{tag}-{i}.example"})
                    direct.save("Contacts", {"id": cid, "title": f"{tag} director {i}"})
            finally:
                direct.close()

            def converged() -> bool:
                got = dict(db_rows(portal, "SELECT name, website FROM accounts WHERE deleted = 0 "
                                   "AND name LIKE %s", (f"{tag} portal org %",)))
                titles = {t for (t,) in db_rows(portal, "SELECT title FROM contacts WHERE deleted = 0 "
                                                "AND last_name LIKE %s", (f"{tag} portal %",))}
                sites = [got.get(f"{tag} portal org {i}") for i in range(n)]
                return (sites == [f"https://{tag}-{i}.example" for i in range(n)]
                        and titles == {f"{tag} director {i}" for i in range(n)})

            deadline = time.monotonic() + timeout
            while not converged():
                if time.monotonic() > deadline:
                    out.errors.append(f"the portal did not converge within {timeout:.0f} s")
                    break
                try:
                    sc.cycle()
                except TransientError:
                    out.detail["gave_up"] = out.detail.get("gave_up", 0) + 1
                time.sleep(0.3)
            dead = sc.store.dead_letters()
            if dead:
                out.errors.append(f"{len(dead)} dead letter(s): {dead[0].last_error}")
            check(out, n, portal_rows(portal, tag))
            out.detail["faults"] = dict(pi.faults + pp.faults)
            out.detail["requests"] = pi.requests + pp.requests
        finally:
            pi.rate = pp.rate = 0.0  # the cleanup's calls pass clean
            try:
                sc.cleanup()
            except Exception as exc:  # noqa: BLE001 - the DB check below still runs; cleanup() logs
                out.detail["cleanup"] = f"{type(exc).__name__}: {exc}"
    return out


def check(out: Outcome, n: int, rows: dict[str, list[Any]]) -> None:
    """Count what the portal's DB held (``rows``: table -> names) against ``n`` each."""
    for names in rows.values():
        seen: dict[Any, int] = {}
        for name in names:
            seen[name] = seen.get(name, 0) + 1
        out.lost += max(0, n - len(seen))
        out.duplicated += sum(c - 1 for c in seen.values())


def portal_rows(portal: LabInstance, tag: str) -> dict[str, list[Any]]:
    """What the portal's DB holds of the run (live rows), per kind."""
    return {
        "accounts": [r[0] for r in db_rows(portal, "SELECT name FROM accounts WHERE deleted = 0 "
                                           "AND name LIKE %s", (f"{tag} portal org %",))],
        "contacts": [r[0] for r in db_rows(portal, "SELECT last_name FROM contacts WHERE deleted = 0 "
                                           "AND last_name LIKE %s", (f"{tag} portal %",))],
        "groups": [r[0] for r in db_rows(portal, "SELECT name FROM securitygroups WHERE deleted = 0 "
                                         "AND name LIKE %s", (f"{tag} {tag} portal org %",))],
    }


def cleanup(lab: LabInstance, portal: LabInstance, tag: str) -> None:
    """Remove the run's Accounts, Contacts and groups on both sides (rows the REST deletes marked too)."""
    import pymysql

    for inst in (lab, portal):
        con = pymysql.connect(**inst.db_params())
        try:
            with con.cursor() as cur:
                cur.execute("DELETE FROM accounts_contacts WHERE contact_id IN "
                            "(SELECT id FROM contacts WHERE last_name LIKE %s)", (tag + " portal %",))
                cur.execute("DELETE c FROM accounts_cstm c JOIN accounts a ON a.id = c.id_c "
                            "WHERE a.name LIKE %s", (tag + " portal %",))
                cur.execute("DELETE c FROM contacts_cstm c JOIN contacts p ON p.id = c.id_c "
                            "WHERE p.last_name LIKE %s", (tag + " portal %",))
                cur.execute("DELETE FROM accounts WHERE name LIKE %s", (tag + " portal %",))
                cur.execute("DELETE FROM contacts WHERE last_name LIKE %s", (tag + " portal %",))
                cur.execute("DELETE FROM securitygroups WHERE name LIKE %s", (tag + " " + tag + " portal %",))
        finally:
            con.close()
