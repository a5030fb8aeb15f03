"""routing: trigger evaluation per record change (p50/p95/p99), against a naive baseline.

    python bench/routing_triggers.py [--changes 5000] [--routes 40]

Over the test kit's hooked FakeCRM (the routing plugin with the shipped routes plus ``--routes`` synthetic
routes on Opportunities, each with a trigger of 6 tests under all/any/not and a cancel_when), times for
``--changes`` record changes of Opportunities with random values:

- **conditions**: the routes' triggers and cancel conditions evaluated against the change's facts (what
  decides whether anything happens), per change;
- **naive**: the same with every condition parsed from its YAML data again for each change (what an
  implementation that keeps conditions as data does), in the same process — the ratio is printed;
- **handler, nothing starts**: the plugin's ``ext_on_record_change`` for a change no route matches
  (record read + every route's conditions);
- **handler, run already there**: a change of a record whose route already runs for its values (run
  lookup, the running step re-checked);
- **handler, a run starts**: a change that starts a run (run and step records, Tasks, decision log).

Not part of the test run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "routing"))
sys.path.insert(0, str(ROOT))

from routing_kit import make_office, route_file  # noqa: E402

from plugins.routing.predicates import PREDICATES  # noqa: E402
from suitecrm_ext import Event, EventKind, FieldChange  # noqa: E402
from suitecrm_ext.workflow import Facts, parse_condition  # noqa: E402

STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Negotiation/Review"]


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def line(label: str, ms: list[float], base: list[float] | None = None) -> str:
    text = (
        f"  {label:<30} {1000 / statistics.mean(ms):>9.0f}/s  p50 {pct(ms, 50):7.3f} ms  "
        f"p95 {pct(ms, 95):7.3f} ms  p99 {pct(ms, 99):7.3f} ms"
    )
    if base is not None:
        text += f"  x{statistics.mean(base) / statistics.mean(ms):.1f} vs naive"
    return text


def synthetic(i: int) -> dict:
    """A route whose trigger rarely holds: six tests under all / any / not."""
    return {
        "name": f"synthetic_{i}",
        "module": "Opportunities",
        "on": ["created", "updated"],
        "when": {
            "all": [
                {"field": "amount", "gt": 900_000 + i},
                {
                    "any": [
                        {"field": "sales_stage", "in": ["Closed Won", "Negotiation/Review"]},
                        {"field": "probability", "gte": 90},
                    ]
                },
                {"not": {"field": "name", "starts_with": "test"}},
                {"field": "sales_stage", "changed": True},
                {"field": "amount", "before": {"lt": 900_000 + i}},
            ]
        },
        "cancel_when": {"field": "sales_stage", "eq": "Closed Lost"},
        "steps": [{"name": "a", "assignee": {"role": "Sales manager"}, "deadline": "8h"}],
    }


def change(opp_id: str, rng: random.Random, *, discount: str | None = None) -> tuple[dict, Event]:
    before = {
        "amount": str(rng.randint(1, 500_000)),
        "sales_stage": rng.choice(STAGES),
        "probability": rng.randint(0, 80),
        "rt_discount_c": "5",
    }
    after = dict(before, amount=str(rng.randint(1, 500_000)), sales_stage=rng.choice(STAGES))
    if discount is not None:
        after["rt_discount_c"] = discount
    changes = {k: FieldChange(before[k], after[k]) for k in after if before[k] != after[k]}
    ev = Event(
        "Opportunities",
        opp_id,
        EventKind.UPDATED,
        dt.datetime(2025, 12, 1, 7, 0, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=rng.random() * 1e6),
        "push",
        changes,
        after,
        user_id="u-seller",
    )
    return after, ev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=5000)
    ap.add_argument("--routes", type=int, default=40)
    args = ap.parse_args()
    rng = random.Random(7)
    mp = pytest.MonkeyPatch()
    tmp = Path(tempfile.mkdtemp(prefix="routing-bench-"))
    o = make_office(
        tmp,
        None,
        mp,
        routes=[synthetic(i) for i in range(args.routes)],
        route_files=[
            route_file("discount_approval.yaml"),
            route_file("portal_cases.yaml"),
            route_file("document_approval.yaml"),
        ],
        notify={"email": False},
    )
    engine = o.engine()
    routes = engine.routes_for("Opportunities")
    print(f"routing trigger evaluation: {len(routes)} routes on Opportunities, {args.changes} changes")
    opp = o.save(
        "u-seller",
        "Opportunities",
        {"name": "bench deal", "sales_stage": "Prospecting", "amount": "1000", "rt_discount_c": "5"},
    )
    samples = [change(opp, rng) for _ in range(args.changes)]

    compiled: list[float] = []
    for values, ev in samples:
        t = time.perf_counter()
        facts = Facts.of_event(ev, values)
        for r in routes:
            (r.cancel_when is not None and r.cancel_when.holds(facts)) or r.when.holds(facts)
        compiled.append((time.perf_counter() - t) * 1000)
    sources = [(r.when.source, r.cancel_when.source if r.cancel_when is not None else None) for r in routes]
    naive: list[float] = []
    for values, ev in samples:
        t = time.perf_counter()
        facts = Facts.of_event(ev, values)
        for when, cancel in sources:
            (
                cancel is not None and parse_condition(cancel, predicates=PREDICATES).holds(facts)
            ) or parse_condition(when, predicates=PREDICATES).holds(facts)
        naive.append((time.perf_counter() - t) * 1000)
    print(line("conditions", compiled, naive))
    print(line("naive (parse per change)", naive))

    def handler(ev: Event) -> float:
        o.crm.queue.clear()
        t = time.perf_counter()
        o.registry.call_one("routing", "ext_on_record_change", event=ev, ctx=o.ctx)
        return (time.perf_counter() - t) * 1000

    quiet = [handler(ev) for _, ev in samples[: min(2000, len(samples))]]
    print(line("handler, nothing starts", quiet))
    # one run for the current discount, then changes that keep it
    o.save("u-seller", "Opportunities", {"id": opp, "rt_discount_c": "15"})
    running = [handler(change(opp, rng, discount="15")[1]) for _ in range(min(500, args.changes))]
    print(line("handler, run already there", running))
    starts = []
    for i in range(min(200, args.changes)):
        rid = o.crm.save(
            "Opportunities", {"name": f"bench deal {i}", "sales_stage": "Prospecting", "rt_discount_c": "5"}
        )
        starts.append(handler(change(rid, rng, discount="15")[1]))
    print(line("handler, a run starts", starts))
    mp.undo()
    o.ctx.app.close()


if __name__ == "__main__":
    main()
