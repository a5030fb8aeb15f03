"""bp_scripts: script steps per second and trigger evaluation per record change (p50/p95/p99).

    python bench/bp_scripts.py [--steps 300] [--changes 3000]

Over the test kit's FakeCRM with the bp_scripts package and a SQLite state store (the engine exactly as
the sidecar runs it: a lease per run, the state saved before and after each step, the run mirrored to its
bp_Runs record), with the shipped processes (config/processes/*.yaml) loaded:

1. **steps/s**: ``--steps`` one-step runs of ``set_fields`` (a template and a lookup) on different
   Opportunities, against a naive baseline in the same process that renders the same values and saves
   them straight to the CRM (no run, no state, no mirror) — the ratio is the engine's cost of being
   resumable; and a whole 4-step process (the shipped order delivery: Task, completion, wait, date,
   SMS to a local SMSC server) per record: processes/s and steps/s;
2. **trigger evaluation**: ``Engine.on_event`` for ``--changes`` changes of Opportunities with random
   values that start nothing (every trigger of the module evaluated on the change's facts: what every
   change costs), against a naive baseline that parses each process's trigger from its YAML again and
   reads the record from the CRM for every change; and for changes that start a process (run, mirror,
   the step).

Not part of the test run; prints its figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "plugins"))

from bp_scripts.kit import PROCESSES, Clock, bp_app, event, evented_crm  # noqa: E402
from bp_scripts.sms_servers import FakeSmsc  # noqa: E402

from plugins.bp_scripts.processes import ConditionT  # noqa: E402
from plugins.bp_scripts.runs import RunStore  # noqa: E402
from plugins.bp_scripts.service import engine_for  # noqa: E402
from plugins.bp_scripts.templating import TemplateEngine  # noqa: E402
from suitecrm_ext.workflow import AccessModel, Facts  # noqa: E402

STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review"]


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def line(label: str, ms: list[float], base: list[float] | None = None) -> str:
    out = (f"  {label:<44} p50 {pct(ms, 50):7.3f} ms  p95 {pct(ms, 95):7.3f} ms  p99 {pct(ms, 99):7.3f} ms"
           f"  ({len(ms)} changes)")
    if base:
        out += f"  naive/ours p95 {pct(base, 95) / pct(ms, 95):5.1f}x"
    return out


def world(tmp: Path, smsc_url: str):
    clock = Clock()
    crm = evented_crm(clock)
    sms = {"providers": {"smsc": {"kind": "smsc", "login": FakeSmsc.LOGIN, "password": FakeSmsc.PASSWORD,
                                  "url": smsc_url, "sender": "Shop"}}}
    app, _ = bp_app(crm, tmp, processes=[str(PROCESSES / "*.yaml")], settings={"sms": sms})
    engine = engine_for(app.for_plugin("bp_scripts"), clock=clock)
    return crm, engine, clock


def deals(crm, n: int, rng: random.Random) -> list[str]:
    crm.muted = True
    ids = [crm.save("Opportunities", {"name": f"deal {i}", "amount": "100.00", "date_closed": "2026-12-31",
                                      "sales_stage": rng.choice(STAGES), "bp_deal_type_c": ""})
           for i in range(n)]
    crm.muted = False
    return ids


def bench_steps(args, tmp: Path, smsc: FakeSmsc) -> None:
    crm, engine, clock = world(tmp / "steps", smsc.url)
    rng = random.Random(1)
    ids = deals(crm, args.steps * 2, rng)
    settings = {"fields": {"next_step": "call {{ record.name }} ({{ record.amount | money }})",
                           "probability": {"lookup": "sales_stage", "table": {s: 10 * i for i, s in
                                                                              enumerate(STAGES)}}}}
    t0 = time.perf_counter()
    for i, rid in enumerate(ids[: args.steps]):
        run = engine.start_adhoc(f"bench-{i}", "set_fields", settings, "Opportunities", rid)
        assert run is not None and run.status == "done", run and run.log_lines()
    ours = time.perf_counter() - t0
    crm.queue.clear()
    templates = TemplateEngine()
    table = settings["fields"]["probability"]["table"]
    t0 = time.perf_counter()
    for rid in ids[args.steps:]:
        rec = crm.get("Opportunities", rid)
        ctx = {"record": rec.values}
        text = templates.render(settings["fields"]["next_step"], ctx)
        crm.save("Opportunities", {"id": rid, "next_step": text,
                                   "probability": table[rec.get("sales_stage")]})
    naive = time.perf_counter() - t0
    crm.queue.clear()
    print(f"script steps (set_fields, template + lookup), {args.steps} one-step runs:")
    print(f"  engine (lease, state before/after, bp_Runs mirror): {args.steps / ours:8.0f} steps/s "
          f"({ours / args.steps * 1000:.2f} ms/step)")
    print(f"  naive (render + save, nothing kept):               {args.steps / naive:8.0f} steps/s "
          f"({naive / args.steps * 1000:.2f} ms/step); engine/naive time {ours / naive:.1f}x")

    # whole processes: the shipped order delivery, 4 steps + the person's Task, per invoice
    access = AccessModel(crm)
    role = access.ensure_role("Logistics")
    logist = crm.save("Users", {"user_name": "l", "last_name": "L", "status": "Active"})
    access.add_user_to_role(role.id, logist)
    contact = crm.save("Contacts", {"last_name": "C", "phone_mobile": "89161234567"})
    n = max(20, args.steps // 5)
    crm.muted = True
    invoices = [crm.save("AOS_Invoices", {"name": f"i{i}", "number": i, "status": "Unpaid",
                                          "billing_contact_id": contact}) for i in range(n)]
    crm.muted = False
    crm.pump(engine)
    t0 = time.perf_counter()
    for inv in invoices:
        crm.save("AOS_Invoices", {"id": inv, "status": "Paid"})
        crm.pump(engine)
        [task] = [t for t in crm.records("Tasks") if t.get("parent_id") == inv]
        crm.save("Tasks", {"id": task.id, "status": "Completed"})
        crm.save("AOS_Invoices", {"id": inv, "bp_assembled_c": True})
        crm.pump(engine)
    took = time.perf_counter() - t0
    done = sum(1 for inv in invoices for r in RunStore(engine.state).of_record("AOS_Invoices", inv)
               if r.status == "done")
    assert done == n and len(smsc.messages) == n, (done, len(smsc.messages))
    print(f"order delivery end to end (4 steps, events pumped, SMS over loopback HTTP), {n} invoices:")
    print(f"  {n / took:8.1f} processes/s, {4 * n / took:8.1f} steps/s ({took / n * 1000:.1f} ms/process)")


def bench_triggers(args, tmp: Path, smsc: FakeSmsc) -> None:
    crm, engine, clock = world(tmp / "triggers", smsc.url)
    rng = random.Random(2)
    ids = deals(crm, 200, rng)
    opp = [p for p in engine.processes.values() if p.module == "Opportunities"]
    raw = {}
    for path in sorted(PROCESSES.glob("*.yaml")):
        for p in yaml.safe_load(path.read_text(encoding="utf-8"))["processes"]:
            raw[p["name"]] = p["trigger"]["when"]
    ours, naive = [], []
    for _ in range(args.changes):
        rid = rng.choice(ids)
        before, after = rng.choice(STAGES), rng.choice(STAGES)
        ev = event("Opportunities", rid, changes={"sales_stage": (before, after), "description": ("a", "b")},
                   values={"sales_stage": after, "bp_deal_type_c": "", "name": "x"})
        t0 = time.perf_counter()
        engine.on_event(ev)
        ours.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        record = {**crm.get("Opportunities", rid).values, **ev.values}
        facts = Facts.of_event(ev, record)
        for p in opp:
            ConditionT_parse(raw[p.name]).holds(facts)
        naive.append((time.perf_counter() - t0) * 1000)
    assert not any(RunStore(engine.state).of_record("Opportunities", i) for i in ids)  # nothing started
    starts = []
    for rid in ids[:100]:
        crm.muted = True
        crm.save("Opportunities", {"id": rid, "bp_deal_type_c": "one_off", "sales_stage": "Prospecting"})
        crm.muted = False
        ev = event("Opportunities", rid, changes={"bp_deal_type_c": ("", "one_off")},
                   values={"bp_deal_type_c": "one_off", "sales_stage": "Prospecting"})
        t0 = time.perf_counter()
        done = engine.on_event(ev)
        starts.append((time.perf_counter() - t0) * 1000)
        assert any("started" in d for d in done), done
        crm.queue.clear()
    print(f"trigger evaluation: {len(engine.processes)} processes ({len(opp)} on Opportunities), "
          f"{args.changes} changes")
    print(line("on_event, nothing starts", ours, naive))
    print(line("naive (parse trigger + read record)", naive))
    print(line("on_event, a process starts (+ its steps)", starts))


def ConditionT_parse(data):  # noqa: N802 - the naive baseline: parse the trigger from its data each time
    from pydantic import TypeAdapter

    return TypeAdapter(ConditionT).validate_python(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--changes", type=int, default=3000)
    args = ap.parse_args()
    logging.getLogger("suitecrm_ext").setLevel(logging.ERROR)  # parked-run warnings are not the figures
    load = os.getloadavg()
    print(f"bp_scripts bench ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp, FakeSmsc() as smsc:
        bench_steps(args, Path(tmp), smsc)
        bench_triggers(args, Path(tmp), smsc)


if __name__ == "__main__":
    main()
