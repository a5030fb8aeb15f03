"""collegial_actions: latency of the status-change validation (the before_save budget) and rule speed.

    python bench/collegial_validate.py [--repeat 300]

Over a FakeCRM holding the plugin's modules and one Classic document with N collegial actions
(N = 10, 50, 200, each with its own assignee), times the ``ext_validate_record_change`` hook for an
allowed change (Voting -> Approval, all votes in) and a refused one (Voting -> Approval, votes pending),
and compares with a naive validation run in the same process over the same data: reload the process
definitions from YAML and look up every assignee's name before deciding (what a straightforward
implementation does). The plugin decides first and looks names up only when it refuses.
Prints validations/s and p50/p95/p99 latency, and the ratio to the naive baseline. Also prints the
speed of the pure rule ``check_transition``. Not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "collegial_actions"))
sys.path.insert(0, str(ROOT))

from collegial_kit import PLUGIN, make_desk  # noqa: E402

from plugins.collegial_actions import records  # noqa: E402
from plugins.collegial_actions.records import Directory  # noqa: E402
from plugins.collegial_actions.rules import Action, check_transition, load_default_catalog  # noqa: E402
from suitecrm_ext import RecordChange  # noqa: E402


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def line(label: str, ms: list[float], base: list[float] | None = None) -> str:
    rate = 1000 / statistics.mean(ms)
    text = (f"  {label:<34} {rate:>9.0f}/s  p50 {pct(ms, 50):6.3f} ms  p95 {pct(ms, 95):6.3f} ms  "
            f"p99 {pct(ms, 99):6.3f} ms")
    if base is not None:
        text += f"  x{statistics.mean(base) / statistics.mean(ms):.1f} vs naive"
    return text


def setup(n: int, tmp: Path, done: bool):
    desk = make_desk(tmp, None, notify={"email": False, "tasks": False})
    crm = desk.crm
    doc = desk.document("u-author", "Bench", "classic")
    for i in range(n):
        crm.insert("Users", {"id": f"b-{n}-{i}", "user_name": f"b{n}_{i}", "first_name": "B",
                             "last_name": str(i), "email1": f"b{i}@example.test"})
        crm.save("ca_CollegialActions", {"name": "v", "parent_type": "Documents", "parent_id": doc,
                                         "kind": "voting", "assigned_user_id": f"b-{n}-{i}",
                                         "outcome": "for" if done else ""})
    for kind, user in (("approval", "u-approver"), ("signing", "u-signer"), ("acknowledgement", "u-reader")):
        crm.save("ca_CollegialActions", {"name": kind, "parent_type": "Documents", "parent_id": doc,
                                         "kind": kind, "assigned_user_id": user})
    crm.save("Documents", {"id": doc, "ca_status_c": "Voting"})
    before = dict(crm.get("Documents", doc).values)
    change = RecordChange("Documents", doc, before, {"ca_status_c": "Approval"}, user_id="u-author")
    return desk, change


def naive(desk, change: RecordChange) -> str | None:
    catalog = load_default_catalog()
    process = catalog.process("classic")
    directory = Directory(desk.crm)
    actions = records.document_actions(desk.crm, desk.ctx.settings, change.record_id, directory)
    verdict = check_transition(process, change.before["ca_status_c"], change.after["ca_status_c"], actions)
    return None if verdict.allowed else verdict.reason


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()
    print("collegial_actions validation (FakeCRM, in process)")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, 50, 200):
            for done in (True, False):
                desk, change = setup(n, Path(tmp) / f"{n}-{done}", done)
                hook = lambda desk=desk, change=change: desk.registry.call_one(  # noqa: E731
                    PLUGIN, "ext_validate_record_change", change=change, ctx=desk.ctx)
                result, expected = hook(), naive(desk, change)
                assert result == expected, (result, expected)
                base = timed(lambda desk=desk, change=change: naive(desk, change), args.repeat)
                ours = timed(hook, args.repeat)
                what = "allowed" if done else "refused"
                print(f" {n} actions, {what} change:")
                print(line("naive (reload + all names)", base))
                print(line("plugin hook", ours, base))
                desk.ctx.app.close()
    process = load_default_catalog().process("classic")
    actions = [Action(str(i), "voting", f"u{i}", f"U {i}", "for") for i in range(50)]
    actions += [Action("a", "approval", "ua", "A"), Action("s", "signing", "us", "S"),
                Action("k", "acknowledgement", "uk", "K")]
    calls = 20000
    t = time.perf_counter()
    for _ in range(calls):
        check_transition(process, "Voting", "Approval", actions)
    dt_s = time.perf_counter() - t
    print(f"check_transition, 53 actions: {calls / dt_s:,.0f} decisions/s")


if __name__ == "__main__":
    main()
