"""portal_sync on two real SuiteCRM 7.14.6 instances: change -> other side latency, and the initial sync.

    python bench/portal_sync.py latency [--changes 30] [--interval 5]
    python bench/portal_sync.py initial [--accounts 10000] [--naive 300]

The instances come from the live layer's env files: ``$SUITECRM_EXT_LIVE_ENV`` (internal) and
``$SUITECRM_EXT_LIVE_PORTAL_ENV`` (portal), as provisioned by ../shared/suitecrm/lab.sh.

``latency``: ``suitecrm-ext run`` as a process (the live kit's sidecar) between the two, one published
organisation; a change is an API save of the Account's phone on one side, its latency the time until
the other side's database shows the value (read every 20 ms). Four runs: internal -> portal and
portal -> internal, each with push (the plugin's package in the internal SuiteCRM, the portal package
in the portal: hooks post to ``/events`` and ``/o/portal/events``) and with polling only
(``run --no-push``: the change feed every ``--interval`` s, the portal-sync job every ``--interval`` s).
Target (issue 15): p95 <= 5 s with push, <= interval + 5 s polling only.

``initial``: ``--accounts`` internal Accounts (inserted into the lab database: bench setup) published to the
portal by ``portal resync --module Accounts`` with ``organisation.publish: all`` (in-process, the
internal side read through MySQL, the portal written through REST ``set_entries`` in batches of 200);
records/s and peak RSS, against a naive baseline run in the same process (``--naive`` Accounts
published one ``publish_account`` at a time: get + create per record). ``--no-aod`` switches
SuiteCRM's AOD search indexing off on both lab instances for the run (on a loaded machine it costs
~0.4 s per saved Account). The Accounts are soft-deleted on both lab instances afterwards (SQL on the
lab databases: bench cleanup, not the product).

Not part of the test run; prints its figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "live"))

import pymysql  # noqa: E402

from suitecrm_ext import IdMap  # noqa: E402
from suitecrm_ext.lab import LIVE_ENV_VAR, LIVE_PORTAL_ENV_VAR, live_instance  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def instances():
    internal, portal = live_instance(LIVE_ENV_VAR), live_instance(LIVE_PORTAL_ENV_VAR)
    if internal is None or portal is None:
        sys.exit(f"set ${LIVE_ENV_VAR} and ${LIVE_PORTAL_ENV_VAR} to lab.sh env files")
    return internal, portal


def _others_disabled() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {
        ep.name: {"enabled": False}
        for ep in entry_points(group="suitecrm_ext.plugins")
        if ep.name != "portal_sync"
    }


# --- latency ---------------------------------------------------------------------------------


def wait_value(conn, table: str, rid: str, field: str, value: str, timeout: float) -> float | None:
    """Seconds until ``table.field`` of ``rid`` reads ``value`` (20 ms reads), None after ``timeout``."""
    t0 = time.monotonic()
    with conn.cursor() as cur:
        while time.monotonic() - t0 < timeout:
            cur.execute(f"SELECT {field} FROM {table} WHERE id = %s", (rid,))  # names are ours, not input
            row = cur.fetchone()
            if row and row[0] == value:
                return time.monotonic()
            time.sleep(0.02)
    return None


def latency(args: argparse.Namespace) -> None:
    from livekit import LiveKit

    from plugins.portal_sync import portal_package
    from plugins.portal_sync.journal import IDS_NS
    from suitecrm_ext.state.sqlite import SQLiteStore

    internal_lab, portal_lab = instances()
    work = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    kit = LiveKit(internal_lab, work)
    kit.install("portal_sync")
    LiveKit(portal_lab, work)  # writes the push secret into the portal's config_override.php
    portal_package.install(portal_lab.root, kit.push_url)
    internal, portal = internal_lab.gateway("rest"), portal_lab.gateway("rest")
    idb, pdb = (
        pymysql.connect(**internal_lab.db_params(read_only=True)),
        pymysql.connect(**portal_lab.db_params(read_only=True)),
    )
    tag = "bench" + uuid.uuid4().hex[:6]
    plugin = {
        "portal": portal_lab.suitecrm_section("rest"),
        "poll_schedule": f"{args.interval}s",
        "organisation": {"publish": "all"},
        "access": {"group_prefix": f"{tag} "},
    }
    results: dict[str, list[float]] = {}
    made: list[tuple[str, str]] = []
    try:
        for mode in ("push", "polling"):
            state = work / mode
            state.mkdir()
            config = kit.config(
                plugins={**_others_disabled(), "portal_sync": plugin},
                state_dir=state,
                write_via="rest",
                read_via="mysql",
                events={"poll_interval_seconds": float(args.interval)},
            )
            extra = () if mode == "push" else ("--no-push",)
            with kit.sidecar(config, "--worker-id", f"bench-{mode}", *extra, wait=(mode == "push")) as proc:
                store = SQLiteStore(Path(config["state"]["path"]))
                deadline = time.monotonic() + 60
                while store.get_cursor("poller:Accounts") is None:
                    assert time.monotonic() < deadline, proc.log[-2000:]
                    time.sleep(0.2)
                acc = internal.save("Accounts", {"name": f"{tag} {mode}", "phone_office": "start"})
                made.append(("internal", acc))
                ids = IdMap(store, IDS_NS)
                while not ids.right("Accounts", acc) or ids.entry("Accounts", acc).data.get("state") != "ok":
                    assert time.monotonic() < deadline + 60, proc.log[-2000:]
                    time.sleep(0.2)
                pid = ids.right("Accounts", acc)
                made.append(("portal", pid))
                for direction in ("internal->portal", "portal->internal"):
                    samples = []
                    for i in range(args.changes):
                        value = f"{mode[:2]}{direction[0]}{i}-{uuid.uuid4().hex[:6]}"
                        time.sleep(0.3 + (i % 5) * 0.37)  # spread over the poll cycle
                        t0 = time.monotonic()
                        if direction == "internal->portal":
                            internal.save("Accounts", {"id": acc, "phone_office": value})
                            t1 = wait_value(pdb, "accounts", pid, "phone_office", value, args.interval + 30)
                        else:
                            portal.save("Accounts", {"id": pid, "phone_office": value})
                            t1 = wait_value(idb, "accounts", acc, "phone_office", value, args.interval + 30)
                        if t1 is None:
                            print(f"  {mode} {direction}: change {i} not seen within {args.interval + 30} s")
                            continue
                        samples.append(t1 - t0)
                    results[f"{mode:8s} {direction}"] = samples
                store.close()
        print(
            f"change -> other side (real SuiteCRM 7.14.6 x2, API save to DB read, {args.changes} changes"
            " each;"
            f" polling interval {args.interval} s)"
        )
        for name, samples in results.items():
            if samples:
                print(
                    f"  {name:30s} n={len(samples):3d}  p50={statistics.median(samples) * 1000:7.0f} ms  "
                    f"p95={pct(samples, 95) * 1000:7.0f} ms  max={max(samples) * 1000:7.0f} ms"
                )
    finally:
        for side, rid in made:
            try:
                (internal if side == "internal" else portal).delete("Accounts", rid)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
        portal_package.install(portal_lab.root, kit.push_url, action="uninstall")


# --- initial sync ------------------------------------------------------------------------------


def seed_accounts(lab, tag: str, n: int) -> list[str]:
    """``n`` internal Accounts for the bench, inserted into the lab database (bench setup, not the product:
    through REST they take ~0.2-0.4 s each on this host, longer than the sync being measured)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    ids = [str(uuid.uuid4()) for _ in range(n)]
    t0 = time.monotonic()
    conn = pymysql.connect(**lab.db_params())
    try:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO accounts (id, name, date_entered, date_modified, modified_user_id, created_by,"
                " assigned_user_id, deleted, phone_office, billing_address_city)"
                " VALUES (%s, %s, %s, %s, '1', '1', '1', 0, %s, %s)",
                [
                    (rid, f"{tag} Client {k:05d}", now, now, f"+7 495 {k:07d}", "Москва")
                    for k, rid in enumerate(ids)
                ],
            )
        conn.commit()
    finally:
        conn.close()
    print(f"seeded {n} internal Accounts (SQL insert into the lab database) in {time.monotonic() - t0:.1f} s")
    return ids


def initial(args: argparse.Namespace) -> None:
    from plugins.portal_sync import resync
    from plugins.portal_sync.engine import PortalSync
    from plugins.portal_sync.settings import Settings
    from plugins.portal_sync.suitecrm_portal import SuiteCRMPortal
    from suitecrm_ext.state.sqlite import SQLiteStore

    internal_lab, portal_lab = instances()
    aod_key = "$sugar_config['aod']['enable_aod']"
    if not args.aod:
        from livekit import write_config_override

        for lab in (internal_lab, portal_lab):
            write_config_override(lab.root, {aod_key: "false"})
        print("AOD (SuiteCRM's Lucene indexing on every save) is off on both lab instances for this run")
    tag = "bench" + uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    settings = Settings.model_validate(
        {"portal": portal_lab.suitecrm_section("rest"), "organisation": {"publish": "all"}}
    )
    try:
        ids = seed_accounts(internal_lab, tag, args.accounts + args.naive)
        naive_ids, bulk_ids = ids[: args.naive], ids[args.naive :]
        store = SQLiteStore(work / "naive.sqlite3")
        sync = PortalSync(
            settings, internal_lab.gateway("rest", read_via="mysql"), store, SuiteCRMPortal(settings, store)
        )
        t0 = time.monotonic()
        for iid in naive_ids:
            sync.orgs.publish_account(iid, with_contacts=False)
        naive_rate = len(naive_ids) / (time.monotonic() - t0)
        store.close()

        store = SQLiteStore(work / "bulk.sqlite3")
        sync = PortalSync(
            settings, internal_lab.gateway("rest", read_via="mysql"), store, SuiteCRMPortal(settings, store)
        )
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.monotonic()
        the_plan = resync.ResyncPlan(internal={"Accounts": bulk_ids}, portal_new={"Accounts": []})
        result = resync.run(sync, the_plan)
        took = time.monotonic() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert result["Accounts"] == {"synced": len(bulk_ids), "failed": 0}, result
        pdb = pymysql.connect(**portal_lab.db_params(read_only=True))
        with pdb.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM accounts WHERE deleted = 0 AND name LIKE %s", (f"{tag} %",))
            (in_portal,) = cur.fetchone()
        rate = len(bulk_ids) / took
        print(
            f"initial sync of {len(bulk_ids)} Accounts to the portal (resync --module Accounts,"
            " publish: all):"
            f" {took:.1f} s, {rate:.1f} records/s; {in_portal} in the portal's DB afterwards"
        )
        print(
            f"  naive baseline (publish_account one at a time, {len(naive_ids)} Accounts, same process): "
            f"{naive_rate:.1f} records/s -> batched x{rate / naive_rate:.1f}"
        )
        print(f"  peak RSS {rss1 / 1024:.0f} MB (before the sync {rss0 / 1024:.0f} MB)")
        store.close()
    finally:
        if not args.aod:
            from livekit import write_config_override

            for lab in (internal_lab, portal_lab):
                write_config_override(lab.root, {aod_key: "true"})
        # bench cleanup on the lab databases (not the product): soft-delete what the bench made
        for lab in (internal_lab, portal_lab):
            conn = pymysql.connect(**lab.db_params())
            with conn.cursor() as cur:
                cur.execute("UPDATE accounts SET deleted = 1 WHERE name LIKE %s", (f"{tag} %",))
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--changes", type=int, default=30)
    lat.add_argument("--interval", type=int, default=5)
    ini = sub.add_parser("initial")
    ini.add_argument("--accounts", type=int, default=10000)
    ini.add_argument("--naive", type=int, default=300)
    ini.add_argument("--aod", action=argparse.BooleanOptionalAction, default=True,
                     help="leave SuiteCRM's AOD indexing on (default) or switch it off for the run")
    args = parser.parse_args()
    {"latency": latency, "initial": initial}[args.cmd](args)


if __name__ == "__main__":
    main()
