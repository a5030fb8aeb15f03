"""What the sidecar survives, against a real SuiteCRM 7.14.6 (not part of the test run).

Against the instance of ``$SUITECRM_EXT_LIVE_ENV`` (or ``--env``) it runs the scenarios of
tests/reliability/ with more records and rounds, and two the CI suite leaves out, then prints one
table and, as its last line::

    reliability: faults=N crashes=N outages=N refused=N lost=N duplicated=N

1. **faults** (tests/reliability/faults.py): a seeded ``--rate`` of requests between sidecar and
   SuiteCRM reset, stalled past the timeout, answered 502/503 or cut off (faultproxy.py); the gateway's
   reads/writes, the change feed + dispatcher (handler writing Notes back) and a 1C bank-statement
   import (``onec import --file``, API writer; onec_faults.py) run through it; and portal_sync between
   the instance and the portal of ``--portal-env`` with a proxy on each side (portal_faults.py);
2. **crashes** (crashes.py): ``--rounds`` seeded kill -9 of ``suitecrm-ext run`` (feed, dispatcher,
   a resumable job), each restarted; SuiteCRM's DB must end as after an uninterrupted run; then
   (onec_crashes.py) ``--rounds`` kill -9 of ``onec import --file`` (API writer, ``--onec-payers``
   payments), compared payment by payment with an uninterrupted import of a statement of the same shape;
2b. **outages** (outages.py): SuiteCRM "restarted" under a running ``suitecrm-ext run`` (its HTTP path
   refused, then 503, ``--outage-seconds`` each) and the MySQL reader's database "restarted" (a TCP
   proxy in front of MariaDB's port resets and refuses); the same process must handle every save;
3. **push channel**: forged, stale, replayed, oversized, malformed and flooding requests against a
   push receiver on loopback; refusals as the receiver counts them (``PushServer.stats``, GET /health);
4. **hostile input**: the hypothesis fuzz tests (tests/reliability/test_reliability_fuzz.py), inputs
   tried/refused;
5. **load**: ``--load-rate`` saves/s of Documents for ``--load-seconds`` through REST and the real
   Apache/PHP after_save hook (collegial_actions' package) into ``suitecrm-ext run``; every change
   must be handled once; p50/p95 from sending the save to the handler running; the sidecar's RSS.

``lost`` and ``duplicated`` add up 1, 2, 2b and 5 (checked in SuiteCRM's DB for 1 and 2, in the handler's
record for 5); ``refused`` is 3. Usage::

    python bench/reliability.py [--env FILE] [--seed 18] [--rounds 10] [--load-seconds 60] [--load-rate 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for sub in ("", "tests", "tests/reliability", "tests/live", "tests/events"):
    sys.path.insert(0, str(ROOT / sub))

import requests  # noqa: E402

from suitecrm_ext.lab import LIVE_ENV_VAR, read_lab_env  # noqa: E402

ROWS: list[tuple[str, str, str, str, str]] = []  # section, what, injected/tried, lost, duplicated
TOTAL = Counter()


def row(section: str, what: str, injected: Any, lost: Any = "-", dup: Any = "-") -> None:
    ROWS.append((section, what, str(injected), str(lost), str(dup)))
    print(f"  {section}: {what}: {injected} (lost {lost}, duplicated {dup})", file=sys.stderr, flush=True)


# --- 1. faults ------------------------------------------------------------------------------

def faults(lab: Any, kit: Any, args: argparse.Namespace, workdir: Path) -> None:
    from faultproxy import FaultProxy
    from faults import cleanup, feed_run, gateway_run
    from onec_faults import cleanup as onec_cleanup
    from onec_faults import onec_run

    tag = "sxb" + uuid.uuid4().hex[:8]
    port = int(lab.url.rsplit(":", 1)[1])
    onec: list[Any] = []

    def run_onec(p: Any) -> Any:
        (workdir / "onec").mkdir(exist_ok=True)
        onec.append(onec_run(kit, lab, p.url, tag, workdir / "onec"))
        return onec[-1]

    try:
        for run in (lambda p: gateway_run(lab, p.url, tag, n=args.records),
                    lambda p: feed_run(lab, p.url, tag, workdir, n=args.feed_records), run_onec):
            with FaultProxy(port, rate=args.rate, seed=args.seed, stall_seconds=2.0) as proxy:
                t0 = time.monotonic()
                out = run(proxy)
                took = time.monotonic() - t0
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(proxy.faults.items()))
            extra = "; ".join(out.errors)[:300]
            row("faults", f"{out.name}: {out.expected} writes, {proxy.requests} requests, {took:.0f} s"
                + (f", ERRORS: {extra}" if extra else ""),
                f"{proxy.injected} faults ({kinds})", out.lost, out.duplicated)
            TOTAL["faults"] += proxy.injected
            TOTAL["lost"] += out.lost + (1 if out.errors else 0)
            TOTAL["duplicated"] += out.duplicated
    finally:
        cleanup(lab, tag)
        onec_cleanup(lab, tag, onec[-1] if onec else None)


def portal(lab: Any, kit: Any, args: argparse.Namespace, workdir: Path) -> None:
    from portal_faults import cleanup, portal_run

    from suitecrm_ext.lab import LIVE_PORTAL_ENV_VAR

    env = args.portal_env or os.environ.get(LIVE_PORTAL_ENV_VAR)
    if not env:
        row("faults", f"portal sync: skipped (no portal instance: --portal-env or ${LIVE_PORTAL_ENV_VAR})",
            "-")
        return
    other = read_lab_env(env)
    tag = "sxp" + uuid.uuid4().hex[:8]
    t0 = time.monotonic()
    try:
        out = portal_run(kit, lab, other, tag, workdir / "portal", rate=args.rate, seed=args.seed,
                         n=args.portal_orgs)
    finally:
        cleanup(lab, other, tag)
    d = out.detail
    faults = d.get("faults", {})
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
    extra = "; ".join(out.errors)[:300]
    row("faults", f"{out.name} ({lab.name} -> {other.name}): {args.portal_orgs} organisations published "
        f"(Account, group, Contact) and changed, {out.expected} records, {d.get('requests', 0)} requests, "
        f"{d.get('gave_up', 0)} calls gave up and were repeated, {time.monotonic() - t0:.0f} s"
        + (f", ERRORS: {extra}" if extra else ""), f"{sum(faults.values())} faults ({kinds})",
        out.lost, out.duplicated)
    TOTAL["faults"] += sum(faults.values())
    TOTAL["lost"] += out.lost + (1 if out.errors else 0)
    TOTAL["duplicated"] += out.duplicated


# --- 2. crashes ------------------------------------------------------------------------------

def crashes(lab: Any, kit: Any, args: argparse.Namespace, workdir: Path) -> None:
    from crashes import cleanup, kill_rounds

    tag = "sxb" + uuid.uuid4().hex[:8]
    work = workdir / "crash"
    work.mkdir()
    t0 = time.monotonic()
    try:
        out = kill_rounds(kit, lab, tag, work, rounds=args.rounds, seed=args.seed, records=4, tasks=12)
    finally:
        cleanup(lab, tag)
    d = out.detail
    extra = "; ".join(out.errors)[:300]
    row("crashes", f"kill -9 of run: {out.expected} writes (Notes per save + job Tasks), "
        f"{d.get('deliveries', 0)} deliveries ({d.get('redelivered', 0)} redelivered after a kill), "
        f"{time.monotonic() - t0:.0f} s" + (f", ERRORS: {extra}" if extra else ""),
        f"{d.get('crashes', 0)} kills", out.lost, out.duplicated)
    TOTAL["crashes"] += d.get("crashes", 0)
    TOTAL["lost"] += out.lost + (1 if out.errors else 0)
    TOTAL["duplicated"] += out.duplicated

    from onec_crashes import cleanup as onec_cleanup
    from onec_crashes import onec_kill_rounds

    t0 = time.monotonic()
    out = None
    try:
        out = onec_kill_rounds(kit, lab, tag, work / "onec", rounds=args.onec_rounds, seed=args.seed,
                               payers=args.onec_payers)
    finally:
        onec_cleanup(lab, tag, out)
    d = out.detail
    extra = "; ".join(out.errors)[:300]
    at_kill = d.get("written_at_kill", [])
    equal = d.get("equal", [])
    row("crashes", f"kill -9 of onec import --file (API writer, batches of 2): {args.onec_rounds} statements "
        f"of {args.onec_payers} payments ({args.onec_payers - 1} matched + links, 1 unmatched + Task), each "
        f"killed once and rerun, vs an uninterrupted import ({d.get('window', 0):.1f} s, payments stored "
        f"from {d.get('first_write') or 0:.1f} s to {d.get('last_write') or 0:.1f} s); payments stored at "
        f"the kills {at_kill} ({d.get('misses', 0)} imports ended before their kill and were drawn again); "
        f"equal to the uninterrupted run {sum(equal)}/{len(equal)}; "
        f"{time.monotonic() - t0:.0f} s" + (f", ERRORS: {extra}" if extra else ""),
        f"{d.get('crashes', 0)} kills", out.lost, out.duplicated)
    TOTAL["crashes"] += d.get("crashes", 0)
    TOTAL["lost"] += out.lost + (1 if out.errors else 0)
    TOTAL["duplicated"] += out.duplicated


# --- 2b. outages -------------------------------------------------------------------------------

def outages(lab: Any, kit: Any, args: argparse.Namespace, workdir: Path) -> None:
    from faults import cleanup
    from outages import outage_run

    for side in ("http", "mysql"):
        tag = "sxo" + uuid.uuid4().hex[:8]
        t0 = time.monotonic()
        try:
            out = outage_run(kit, lab, tag, workdir / f"outage-{side}", side=side,
                             seconds=args.outage_seconds, records=args.outage_records)
        finally:
            cleanup(lab, tag)
        d = out.detail
        extra = "; ".join(out.errors)[:300]
        what = (f"{args.outage_seconds:.0f} s refused + {args.outage_seconds:.0f} s 503" if side == "http"
                else f"{args.outage_seconds:.0f} s reset/refused, {d.get('resets', 0)} connections reset")
        rec = d.get("recovered")
        row("outage", f"{out.name} ({what}): {out.expected} saves before/during/after, all handled "
            f"{f'{rec:.0f} s after the outage began' if rec is not None else 'NOT'}, same process, "
            f"{d.get('deliveries', 0)} deliveries ({d.get('redelivered', 0)} redelivered), "
            f"{d.get('errors_logged', 0)} warnings logged, {time.monotonic() - t0:.0f} s"
            + (f", ERRORS: {extra}" if extra else ""),
            f"{d.get('outages', 0)} outages", out.lost, out.duplicated)
        TOTAL["outages"] += d.get("outages", 0)
        TOTAL["lost"] += out.lost + (1 if out.errors else 0)
        TOTAL["duplicated"] += out.duplicated


# --- 3. push channel ---------------------------------------------------------------------------

def push_attacks(workdir: Path) -> None:
    from push_support import SECRET, Gatekeeper, make_harness

    from suitecrm_ext.events.signing import standard_headers

    h = make_harness(workdir, {"gate": Gatekeeper(delay=0.3)}, max_body=4096, max_workers=2, max_queue=2)
    doc = {"module": "Documents", "id": str(uuid.uuid4()), "user_id": "1", "before": {}, "after": {}}
    body = json.dumps(doc).encode()
    sent = Counter()
    try:
        def post(kind: str, data: bytes, headers: dict[str, str], path: str = "/validate") -> None:
            sent[kind] += 1
            try:
                requests.post(h.url + path, data=data, timeout=10,
                              headers={"Content-Type": "application/json", **headers})
            except requests.RequestException:
                pass

        for i in range(20):
            post("forged", body, standard_headers("not-the-secret-" + "x" * 20, body))
            post("stale", body, standard_headers(SECRET, body, timestamp=int(time.time()) - 3600))
            mid = f"msg_replay_{i}"
            post("replayed (first, accepted)", body, standard_headers(SECRET, body, message_id=mid))
            post("replayed", body, standard_headers(SECRET, body, message_id=mid))
            big = json.dumps({**doc, "after": {"description": "x" * 8192}}).encode()
            post("oversized", big, standard_headers(SECRET, big))
            bad = b'{"module": 42'
            post("malformed", bad, standard_headers(SECRET, bad), path="/events")
            post("malformed", body, {"webhook-id": "msg_x", "webhook-timestamp": "soon",
                                     "webhook-signature": "v1,???"})
        flood = [threading.Thread(target=post, args=("flood", body, standard_headers(SECRET, body)))
                 for _ in range(40)]
        for t in flood:
            t.start()
        for t in flood:
            t.join()
        stats = requests.get(h.url + "/health", timeout=10).json()["stats"]
    finally:
        h.server.stop()
        h.store.close()
    refused = stats["refused"]
    attempts = sum(v for k, v in sent.items() if not k.endswith("accepted)"))
    row("push", f"{attempts} hostile requests ({', '.join(f'{k} {v}' for k, v in sent.items())}); "
        f"refused by reason: {', '.join(f'{k} {v}' for k, v in refused.items() if v)}",
        f"{stats['refused_total']} refused")
    TOTAL["refused"] += stats["refused_total"]


# --- 4. hostile input ----------------------------------------------------------------------------

FUZZ = "test_reliability_fuzz"  # the module of tests/reliability/ whose FUZZ_COUNTS are reported

def fuzz() -> None:
    import pytest

    t0 = time.monotonic()
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):  # pytest's own report stays out of the table
        code = pytest.main(["-q", "-p", "no:cacheprovider", str(ROOT / "tests/reliability" / f"{FUZZ}.py")])
    counts = sys.modules[FUZZ].FUZZ_COUNTS if FUZZ in sys.modules else {}
    for name, c in sorted(counts.items()):
        row("fuzz", name, f"{c['tried']} inputs, {c['refused']} refused clearly")
    row("fuzz", f"hypothesis suite {'passed' if code == 0 else 'FAILED'} in {time.monotonic() - t0:.0f} s",
        sum(c["tried"] for c in counts.values()))
    if code != 0:
        TOTAL["lost"] += 1  # a parser that crashed or wrote partially counts as a failure


# --- 5. load -----------------------------------------------------------------------------------

LOAD_PLUGIN = textwrap.dedent('''
    """Load-run plugin: records when each change is handled."""
    import os
    import sqlite3
    import time

    from suitecrm_ext import WatchSpec, hookimpl

    _con = None

    @hookimpl
    def ext_watch(settings):
        return [WatchSpec("Documents", fields=("document_name",))]

    @hookimpl
    def ext_on_record_change(event, ctx):
        global _con
        if _con is None:
            _con = sqlite3.connect(os.environ["REL_LOAD"], timeout=30, isolation_level=None)
        name = event.changes["document_name"].after if "document_name" in event.changes else None
        if name and name.startswith(os.environ["REL_TAG"]):
            _con.execute("INSERT INTO handled VALUES (?, ?, ?, ?, ?)",
                         (event.key, event.record_id, name, time.time(), event.source))
''')


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def load(lab: Any, kit: Any, args: argparse.Namespace, workdir: Path) -> None:
    import pymysql

    kit.install("collegial_actions")  # its after_save hook pushes Documents to the sidecar
    tag = "sxl" + uuid.uuid4().hex[:8]
    work = workdir / "load"
    work.mkdir()
    (work / "rel_load_plugin.py").write_text(LOAD_PLUGIN)
    db = work / "handled.sqlite3"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE handled (key TEXT, record_id TEXT, name TEXT, at REAL, source TEXT)")
    gw = lab.gateway("rest")
    docs = gw.save_many("Documents", [{"document_name": f"{tag} doc {i}", "status_id": "Active"}
                                      for i in range(args.load_docs)])
    gw.close()
    config = kit.config(state_dir=work, plugins=kit.plugins_off(),
                        events={"poll_interval_seconds": 5, "max_attempts": 10, "retry_base_seconds": 0.5,
                                "push": {"max_workers": 16, "max_queue": 256}})
    env = {"PYTHONPATH": str(work), "REL_LOAD": str(db), "REL_TAG": tag,
           "SUITECRM_EXT_EXTRA_PLUGINS": "relload=rel_load_plugin"}
    sent: list[tuple[str, str, float]] = []
    failed: list[str] = []
    lock = threading.Lock()
    rss: list[float] = []
    total = int(args.load_rate * args.load_seconds)
    next_i = [0]
    try:
        with kit.sidecar(config, "--worker-id", "rel-load", env=env) as proc:
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(1.0):
                    v = _rss_mb(proc.popen.pid)
                    if v is not None:
                        rss.append(v)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t0 = time.monotonic()

            def worker() -> None:
                w = lab.gateway("rest")
                try:
                    while True:
                        with lock:
                            i = next_i[0]
                            next_i[0] += 1
                        due = t0 + i / args.load_rate
                        if i >= total or time.monotonic() > t0 + args.load_seconds:
                            return  # the window is over: saves the host could not keep up with are not sent
                        delay = due - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        doc, name = docs[i % len(docs)], f"{tag} load {i}"
                        started = time.time()
                        try:
                            w.save("Documents", {"id": doc, "document_name": name})
                            with lock:
                                sent.append((doc, name, started))
                        except Exception as exc:  # noqa: BLE001 - counted and reported
                            with lock:
                                failed.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                finally:
                    w.close()

            threads = [threading.Thread(target=worker) for _ in range(args.load_workers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - t0
            want = {n for _, n, _ in sent}
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                got = {n for (n,) in con.execute("SELECT name FROM handled")}
                if want <= got:
                    break
                time.sleep(1)
            time.sleep(2)  # anything arriving twice would arrive now
            stop.set()
            sampler.join()
    finally:
        c = pymysql.connect(**lab.db_params())
        with c.cursor() as cur:
            cur.execute("DELETE FROM documents WHERE document_name LIKE %s", (tag + "%",))
        c.close()
    handled = con.execute("SELECT name, MIN(at), COUNT(*), MIN(source) FROM handled GROUP BY name").fetchall()
    first = {n: at for n, at, _, _ in handled}
    lost = sum(1 for _, n, _ in sent if n not in first)
    dup = sum(cnt - 1 for _, _, cnt, _ in handled if cnt > 1)
    lat = sorted((first[n] - s) * 1000 for _, n, s in sent if n in first)
    sources = Counter(src for _, _, _, src in handled)
    p50 = statistics.median(lat) if lat else float("nan")
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    steady = rss[len(rss) // 5:] or rss
    rss_txt = (f"RSS {steady[0]:.0f} MB after warm-up -> {max(steady):.0f} MB max -> {steady[-1]:.0f} MB end"
               if steady else "RSS n/a")
    row("load", f"{len(sent)} saves in {elapsed:.0f} s = {len(sent) / elapsed:.1f}/s achieved "
        f"(target {args.load_rate:.0f}/s, {args.load_workers} REST sessions, {len(failed)} saves failed"
        f"{': ' + failed[0] if failed else ''}); handled via {dict(sources)}; save->handler p50 "
        f"{p50:.0f} ms, p95 {p95:.0f} ms; {rss_txt}",
        f"{len(sent)} changes", lost, dup)
    TOTAL["lost"] += lost
    TOTAL["duplicated"] += dup
    con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default=os.environ.get(LIVE_ENV_VAR), help="lab.sh env file")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--rate", type=float, default=0.3, help="share of requests that get a fault")
    ap.add_argument("--records", type=int, default=10, help="gateway records through the proxy")
    ap.add_argument("--feed-records", type=int, default=6, help="records the feed run saves twice")
    ap.add_argument("--rounds", type=int, default=8, help="kill -9 rounds")
    ap.add_argument("--portal-env", help="lab.sh env file of the portal instance "
                    "(default $SUITECRM_EXT_LIVE_PORTAL_ENV)")
    ap.add_argument("--portal-orgs", type=int, default=4, help="organisations the portal run publishes")
    ap.add_argument("--onec-payers", type=int, default=8, help="payments of each killed 1C import")
    ap.add_argument("--onec-rounds", type=int, default=5, help="1C imports killed (one statement each)")
    ap.add_argument("--outage-seconds", type=float, default=20.0, help="length of each outage")
    ap.add_argument("--outage-records", type=int, default=4, help="Bugs saved before/during/after")
    ap.add_argument("--load-seconds", type=float, default=60.0)
    ap.add_argument("--load-rate", type=float, default=200.0, help="saves per second")
    ap.add_argument("--load-workers", type=int, default=4, help="parallel REST sessions")
    ap.add_argument("--load-docs", type=int, default=200, help="Documents the load run saves in turn")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["faults", "crashes", "outages", "portal", "push", "fuzz", "load"])
    args = ap.parse_args()
    if not args.env:
        ap.error(f"no instance: set ${LIVE_ENV_VAR} or pass --env")
    lab = read_lab_env(args.env)
    from livekit import LiveKit

    workdir = Path(tempfile.mkdtemp(prefix="rel-bench-"))
    kit = LiveKit(lab, workdir)
    load1 = os.getloadavg()[0]
    t0 = time.monotonic()
    if "faults" not in args.skip:
        faults(lab, kit, args, workdir)
    if "portal" not in args.skip:
        (workdir / "portal").mkdir()
        portal(lab, kit, args, workdir)
    if "crashes" not in args.skip:
        crashes(lab, kit, args, workdir)
    if "outages" not in args.skip:
        outages(lab, kit, args, workdir)
    if "push" not in args.skip:
        (workdir / "push").mkdir()
        push_attacks(workdir / "push")
    if "fuzz" not in args.skip:
        fuzz()
    if "load" not in args.skip:
        load(lab, kit, args, workdir)
    print(f"reliability on {lab.url} (SuiteCRM 7.14.6 lab instance {lab.name}), seed {args.seed}, "
          f"{time.monotonic() - t0:.0f} s, host load {load1:.1f} -> {os.getloadavg()[0]:.1f} "
          f"({os.cpu_count()} CPUs)")
    widths = [max(len(r[i]) for r in ROWS + [("section", "what", "injected/tried", "lost", "dup")])
              for i in (0, 2, 3, 4)]
    print(f"{'section':<{widths[0]}}  {'injected/tried':<{widths[1]}}  {'lost':>{widths[2]}}  "
          f"{'dup':>{widths[3]}}  what")
    for sec, what, inj, lost, dup in ROWS:
        print(f"{sec:<{widths[0]}}  {inj:<{widths[1]}}  {lost:>{widths[2]}}  {dup:>{widths[3]}}  {what}")
    print(f"reliability: faults={TOTAL['faults']} crashes={TOTAL['crashes']} outages={TOTAL['outages']} "
          f"refused={TOTAL['refused']} "
          f"lost={TOTAL['lost']} duplicated={TOTAL['duplicated']}")
    return 0 if TOTAL["lost"] == 0 and TOTAL["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
