"""Push latency and the logic hook's own cost, on a real SuiteCRM (one run, printed).

    SUITECRM_EXT_LIVE_ENV=/var/lib/suitecrm-lab/crm.env python bench/hook_latency.py [-n 100]

Installs a small bench package (a push-only logic hook on Notes, built like every plugin's package,
package scan on), serves the push address in-process and measures:

- save -> handler latency, p50/p95, for REST v4_1 saves and web-UI saves (EditView form posted
  over HTTP as a browser does): from the client starting the save to the receiver having stored the
  pushed event (then ``run``'s dispatcher is woken; bench/events.py measures the dispatch after it);
- the hook's own cost per save, inside SuiteCRM (bench/php/hook_cost.php, php-cli as the web server
  user, no Apache or HTTP client in the way): the same Note saved alternately with logic hooks on and
  off (``$bean->processed``), and the hook's ``afterSave()`` (its POST /events included) timed alone;
- for context, REST save round trips over HTTP with the hook pushing, idle
  (``$sugar_config['suitecrm_ext']['secret']`` emptied: it returns at once) and absent (bench
  package uninstalled) — on a busy host these vary by far more than the hook costs.

The bench package is uninstalled at the end; config_override.php gets its secret back.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "live"))

from livekit import PUSH_SECRET, LiveKit, write_config_override  # noqa: E402
from webui import WebUI, read_form  # noqa: E402

from suitecrm_ext import WatchSpec, hookimpl  # noqa: E402
from suitecrm_ext.lab import live_instance  # noqa: E402
from suitecrm_ext.packaging.builder import build_package  # noqa: E402
from suitecrm_ext.packaging.installer import run_installer  # noqa: E402
from suitecrm_ext.packaging.schema import load_schema  # noqa: E402

BENCH_SCHEMA = """
package:
  id: sxt_bench_hooks
  name: "suitecrm-ext: bench hooks"
  version: 0.0.1
  author: suitecrm-ext
  description: Push-only logic hook on Notes for bench/hook_latency.py (uninstalled afterwards).
logic_hooks:
  - {module: Notes, push: true, validate: false}
"""
SECRET_KEY = "$sugar_config['suitecrm_ext']['secret']"


class Clock:
    """A handler that notes when each pushed Notes change was queued."""

    def __init__(self):
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Notes")]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        return None

    def watch(self, server) -> None:
        """Note when the receiver has stored each pushed body (a repeat of a key within one second is
        stored once, so on_queued would miss it: time the store, not the wake-up)."""
        receive = server.receive_event

        def timed(body, message_id=None, origin=""):
            answer = receive(body, message_id, origin)
            doc = json.loads(body)
            name = (doc.get("changes") or {}).get("name", {}).get("after")
            with self.cond:
                self.seen[str(name)] = time.perf_counter()
                self.cond.notify_all()
            return answer

        server.receive_event = timed

    def wait(self, name: str, timeout: float = 10.0) -> float:
        with self.cond:
            self.cond.wait_for(lambda: name in self.seen, timeout=timeout)
            return self.seen[name]


def php_hook_cost(lab, package_id: str, n: int) -> dict[str, list[float]]:
    """Run bench/php/hook_cost.php inside SuiteCRM (as the owner of config.php, like package install)."""
    from suitecrm_ext.packaging.installer import owner_of

    cls = f"SuiteCRMExtHook_{package_id}"
    hook_file = lab.root / "custom/modules/SuiteCRMExt" / package_id / f"{cls}.php"
    uid, gid = owner_of(lab.root)
    run_as = {"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 and uid != 0 else {}
    proc = subprocess.run(["php", str(HERE / "php" / "hook_cost.php"), str(lab.root), str(hook_file), cls,
                           str(n)], capture_output=True, text=True, cwd=lab.root, timeout=1800, **run_as)
    for out_line in proc.stdout.splitlines():
        if out_line.startswith("SUITECRM_EXT_BENCH "):
            return json.loads(out_line.split(" ", 1)[1])
    raise RuntimeError(f"hook_cost.php failed: {(proc.stderr or proc.stdout)[-1500:]}")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def line(label: str, values: list[float]) -> str:
    return (f"{label:<44} n={len(values):<4} p50={pct(values, 50):7.1f} ms  p95={pct(values, 95):7.1f} ms  "
            f"mean={statistics.fmean(values):7.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=100, help="saves per measurement (default 100)")
    args = ap.parse_args()
    lab = live_instance()
    if lab is None:
        print("set SUITECRM_EXT_LIVE_ENV to a lab.sh env file", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    kit = LiveKit(lab, work)
    schema = load_schema(BENCH_SCHEMA, "bench_hooks")
    zip_path = build_package(schema, work, sidecar_url=kit.push_url)
    t0 = time.perf_counter()
    run_installer(zip_path, lab.root, "install")
    print(f"instance {lab.name} ({lab.url}); bench package installed in {time.perf_counter() - t0:.1f} s "
          f"(package scan on)")
    gw = lab.gateway("rest")
    note = gw.save("Notes", {"name": "bench note 0"})
    web = WebUI(lab)
    clock = Clock()
    try:
        with kit.receiver({"clock": clock}) as server:
            clock.watch(server)
            api_lat, web_lat, with_hook, idle_hook = [], [], [], []
            for i in range(args.n):
                name = f"bench api {i}"
                start = time.perf_counter()
                gw.save("Notes", {"id": note, "name": name})
                with_hook.append((time.perf_counter() - start) * 1000)
                api_lat.append((clock.wait(name) - start) * 1000)
                # the same save with the hook idle (no secret: it returns without a request)
                write_config_override(lab.root, {SECRET_KEY: "''"})
                start = time.perf_counter()
                gw.save("Notes", {"id": note, "name": f"bench idle {i}"})
                idle_hook.append((time.perf_counter() - start) * 1000)
                write_config_override(lab.root, {SECRET_KEY: repr(PUSH_SECRET)})
            edit = web.get(f"index.php?module=Notes&action=EditView&record={note}")
            _, form = read_form(edit.text, "EditView")
            for i in range(max(10, args.n // 4)):
                name = f"bench web {i}"
                fields = dict(form, name=name, action="Save", module="Notes", record=note)
                start = time.perf_counter()
                web.post("index.php", fields, allow_redirects=False)
                web_lat.append((clock.wait(name) - start) * 1000)
            php = php_hook_cost(lab, schema.package.id, args.n)
        run_installer(zip_path, lab.root, "uninstall")
        no_hook = []
        for i in range(args.n):
            start = time.perf_counter()
            gw.save("Notes", {"id": note, "name": f"bench nohook {i}"})
            no_hook.append((time.perf_counter() - start) * 1000)
    finally:
        write_config_override(lab.root, {SECRET_KEY: repr(PUSH_SECRET)})
        try:
            gw.delete("Notes", note)
        finally:
            gw.close()
        if run_installer(zip_path, lab.root, "status").installed:
            run_installer(zip_path, lab.root, "uninstall")
    diffs = [a - b for a, b in zip(with_hook, idle_hook, strict=True)]
    php_diffs = [a - b for a, b in zip(php["save_with_hooks"], php["save_without_hooks"], strict=True)]
    print("save -> handler (event stored by the receiver; run's dispatcher is woken then)")
    print(line("  REST v4_1 set_entry", api_lat))
    print(line("  web UI EditView Save (form POST)", web_lat))
    print("the hook's own cost per save, inside SuiteCRM (php-cli, saves alternating with/without hooks)")
    print(line("  Note save, logic hooks on", php["save_with_hooks"]))
    print(line("  Note save, logic hooks off ($bean->processed)", php["save_without_hooks"]))
    print(line("  with - without, per pair", php_diffs))
    print(line("  afterSave() alone (POST /events incl.)", php["after_save_alone"]))
    print("REST save round trip over HTTP (Apache; noisy on a busy host)")
    print(line("  hook pushing (after_save POST /events)", with_hook))
    print(line("  hook idle (no secret: returns at once)", idle_hook))
    print(line("  no hook (bench package uninstalled)", no_hook))
    print(line("  pushing - idle, per pair", diffs))
    print(f"after_save hook cost: p50 {pct(php['after_save_alone'], 50):.1f} ms, "
          f"p95 {pct(php['after_save_alone'], 95):.1f} ms (target p95 <= 5 ms); save with - without hooks "
          f"p95 {pct(php_diffs, 95):.1f} ms")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
