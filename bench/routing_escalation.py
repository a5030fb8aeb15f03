"""routing: one escalation pass over 10,000 open steps on the real SuiteCRM, reads from MySQL.

    python bench/routing_escalation.py [--env /var/lib/suitecrm-lab/NAME.env] [--open 10000]
                                       [--breached 100] [--reminders 100]

Needs a lab instance (``$SUITECRM_EXT_LIVE_ENV`` or ``--env``) with the workflow and routing packages
installed (``suitecrm-ext package install workflow|routing``). Sets up, tagged and removed afterwards:
two users (an assignee and her manager), ``--breached`` Opportunities with a run each whose step is past its
deadline, and ``--open`` open step records in all — the rest due in a week, ``--reminders`` of them with
their reminder time passed. Rows of the plugin's own tables (rt_routeruns, rt_routesteps) are inserted
with the owned-table writer, as SuiteCRM would fill them; the Opportunities and users through REST.

Then times, in the same process:

- **scan (MySQL)**: the pass's two queries — open steps whose reminder time / deadline has passed —
  through the gateway with ``read_via: mysql``;
- **scan (REST, naive)**: the same answer by reading every open step over REST v4_1 and filtering in
  Python (what a job without the database does) — the ratio is printed;
- **the pass**: ``Escalator.run_pass()`` (MySQL reads, REST writes): reminders e-mailed and marked,
  every breached seat escalated to the manager (new step records, Tasks, decision log, e-mails);
- **the pass again**: nothing left to do (the idempotent steady state a cron job pays every minute).

Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

import plugins.routing.plugin as plugin_module  # noqa: E402
from plugins.routing.escalation import Escalator  # noqa: E402
from plugins.routing.records import OPEN, run_id, step_record_id  # noqa: E402
from suitecrm_ext import (  # noqa: E402
    AppContext,  # noqa: E402
    Cond,
    all_of,
)
from suitecrm_ext.lab import read_lab_env  # noqa: E402
from suitecrm_ext.testing import build_config, build_registry  # noqa: E402


class _Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.count += 1
        return "250 OK"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _db_time(v: dt.datetime) -> str:
    return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=os.environ.get("SUITECRM_EXT_LIVE_ENV", ""))
    ap.add_argument("--open", type=int, default=10_000)
    ap.add_argument("--breached", type=int, default=100)
    ap.add_argument("--reminders", type=int, default=100)
    args = ap.parse_args()
    if not args.env:
        sys.exit("give --env /var/lib/suitecrm-lab/NAME.env (or set SUITECRM_EXT_LIVE_ENV)")
    lab = read_lab_env(args.env)
    tag = "rtb" + uuid.uuid4().hex[:6]
    route = {
        "name": f"{tag}_route",
        "module": "Opportunities",
        "on": ["created"],
        "when": {"field": "name", "starts_with": tag},
        "steps": [
            {
                "name": "approve",
                "assignee": {"field": "assigned_user_id"},
                "deadline": "2h",
                "remind_before": "1h",
                "escalate": {"to": "manager"},
            }
        ],
    }
    sink = _Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=_port())
    smtp.start()
    tmp = Path(tempfile.mkdtemp(prefix="routing-bench-"))

    def app_for(read_via: str):
        section = lab.suitecrm_section("rest", read_via=read_via)
        if read_via == "mysql":  # the app's DB user: the bench inserts into the plugin's own tables
            section["mysql"] = lab.mysql_section(read_only=False)
        config = build_config(
            plugins={"routing": {"routes": [route], "service_user": lab["SUITECRM_USER"]}},
            suitecrm=section,
            state={"backend": "sqlite", "path": str(tmp / "state.sqlite3")},
            smtp={"host": "127.0.0.1", "port": smtp.port, "sender": "bench@example.test"},
        )
        reg = build_registry({"routing": plugin_module}, config=config)
        return AppContext(config, plugin_manager=reg)  # the real gateway, built from the config

    app = app_for("mysql")
    ctx = app.for_plugin("routing")
    crm = ctx.crm
    try:
        crm.fields("rt_RouteSteps")
    except Exception:  # noqa: BLE001 - any failure: say what is missing
        sys.exit(
            "the routing package is not installed in this SuiteCRM: suitecrm-ext package install routing"
        )
    made: list[tuple[str, str]] = []
    writer = crm.owned_writer(["rt_routesteps", "rt_routeruns", "sx_decisions"])
    try:
        boss = crm.save(
            "Users",
            {
                "user_name": f"{tag}_boss",
                "last_name": f"{tag} Boss",
                "status": "Active",
                "email1": f"{tag}_boss@example.test",
            },
        )
        made.append(("Users", boss))
        worker = crm.save(
            "Users",
            {
                "user_name": f"{tag}_worker",
                "last_name": f"{tag} Worker",
                "status": "Active",
                "reports_to_id": boss,
                "email1": f"{tag}_worker@example.test",
            },
        )
        made.append(("Users", worker))
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        stamp = _db_time(now - dt.timedelta(days=1))
        t0 = time.perf_counter()
        opps = []
        for i in range(args.breached):
            oid = crm.save(
                "Opportunities",
                {
                    "name": f"{tag} deal {i}",
                    "sales_stage": "Prospecting",
                    "assigned_user_id": worker,
                    "amount": "1000",
                },
            )
            made.append(("Opportunities", oid))
            opps.append(oid)
        base = dict(
            date_entered=stamp,
            date_modified=stamp,
            modified_user_id="1",
            created_by="1",
            deleted=0,
            description=None,
        )
        runs, steps = [], []
        for i in range(args.open):
            rec = opps[i % len(opps)]
            rid = run_id(route["name"], "Opportunities", rec, f"{tag}:{i}")
            if i < args.breached:
                due, remind = now - dt.timedelta(hours=1), now - dt.timedelta(hours=2)
            elif i < args.breached + args.reminders:
                due, remind = now + dt.timedelta(days=1), now - dt.timedelta(minutes=5)
            else:
                due, remind = now + dt.timedelta(days=7), now + dt.timedelta(days=6)
            runs.append(
                {
                    **base,
                    "id": rid,
                    "name": f"{tag} run {i}",
                    "parent_type": "Opportunities",
                    "parent_id": rec,
                    "route": route["name"],
                    "status": "running",
                    "snapshot": "{}",
                    "initiator_id": worker,
                    "started_at": stamp,
                    "finished_at": None,
                    "current_step": "approve",
                    "trigger_key": f"{tag}:{i}",
                    "assigned_user_id": worker,
                }
            )
            steps.append(
                {
                    **base,
                    "id": step_record_id(rid, 1, 0, worker),
                    "name": f"{tag} step {i}",
                    "parent_type": "Opportunities",
                    "parent_id": rec,
                    "record_name": f"{tag} deal",
                    "run_id": rid,
                    "route": route["name"],
                    "step": "approve",
                    "kind": "approval",
                    "seq": 1,
                    "seat": 0,
                    "mode": "single",
                    "completion": "all",
                    "status": OPEN,
                    "decision": "",
                    "comment": None,
                    "decided_by_id": None,
                    "on_behalf_of_id": None,
                    "decided_at": None,
                    "due": _db_time(due),
                    "remind_at": _db_time(remind),
                    "reminded": 0,
                    "escalated_from_id": None,
                    "escalation_level": 0,
                    "assigned_user_id": worker,
                }
            )
        writer.insert_many("rt_routeruns", runs)
        writer.insert_many("rt_routesteps", steps)
        print(
            f"routing escalation pass on {lab.url} (tag {tag}): {args.open} open steps, {args.breached} past "
            f"the deadline, {args.reminders} reminders due; setup {time.perf_counter() - t0:.1f} s"
        )
        from plugins.routing.plugin import engine_for

        engine = engine_for(ctx)
        scan = time.perf_counter()
        due_now = engine.store.open_steps(due_before=now)
        remind_now = engine.store.open_steps(remind_before=now)
        scan = time.perf_counter() - scan
        mine = [r for r in due_now if r.route == route["name"]]
        print(
            f"  scan (MySQL)        {scan * 1000:8.0f} ms  ({len(mine)} breached, "
            f"{len([r for r in remind_now if r.route == route['name']])} reminders of this run)"
        )
        api = app_for("api")
        naive = time.perf_counter()
        rows = list(
            api.crm.find(
                "rt_RouteSteps",
                all_of(Cond("status", "eq", OPEN)),
                ["due", "remind_at", "reminded", "route", "run_id", "seat", "seq"],
            )
        )
        picked = [r for r in rows if r.get("due") and r.get("due") <= now]
        naive = time.perf_counter() - naive
        print(
            f"  scan (REST, naive)  {naive * 1000:8.0f} ms  ({len(rows)} open steps read, {len(picked)} "
            f"breached)  x{naive / scan:.1f} slower than MySQL"
        )
        api.close()
        t = time.perf_counter()
        report = Escalator(engine).run_pass(now)
        first = time.perf_counter() - t
        print(f"  the pass            {first:8.2f} s   {report.summary()}")
        if report.escalated:
            each = first / max(1, report.escalated + report.reminded) * 1000
            print(f"                      {report.escalated / first:8.1f} escalations/s ({each:.0f} ms per "
                  "escalation or reminder, REST writes)")
        t = time.perf_counter()
        again = Escalator(engine_for(ctx)).run_pass(now)
        print(f"  the pass again      {time.perf_counter() - t:8.2f} s   {again.summary()}")
        print(f"  e-mails sent: {sink.count}")
    finally:
        # the plugin's own rows directly; what the pass made in stock modules (Tasks) through the API
        for table in ("rt_routesteps", "rt_routeruns"):
            writer.execute(f"DELETE FROM {table} WHERE route = %s", (route["name"],))
        writer.execute("DELETE FROM sx_decisions WHERE flow = %s", (route["name"],))
        for oid in [rid for m, rid in made if m == "Opportunities"]:
            for task in crm.find("Tasks", Cond("parent_id", "eq", oid), ["id"]):
                crm.delete("Tasks", task.id)
        for module, rid in reversed(made):
            try:
                crm.delete(module, rid)
            except Exception as exc:  # noqa: BLE001 - cleanup is best effort, say what was left
                print(f"  cleanup: {module} {rid} left: {exc}")
        writer.close()
        app.close()
        smtp.stop()


if __name__ == "__main__":
    main()
