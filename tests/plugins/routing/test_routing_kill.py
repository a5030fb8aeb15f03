"""The escalation job killed with SIGKILL mid-pass and started again escalates every breach exactly once.

SuiteCRM is played by the REST v4_1 emulator over the hooked FakeCRM, served on real HTTP in this process
(every API write either happened or not, as in SuiteCRM); the job runs as ``suitecrm-ext jobs run
routing-escalate`` in a child process, which is killed at different points and run again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import yaml
from crm.emulators.rest import RestV4Emulator

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "sidecar-pw"
HIERARCHY = ["Sales manager", "Sales director", "Chief executive"]
ROUTES = [
    {
        "name": "team",
        "module": "Opportunities",
        "on": ["created"],
        "when": {"field": "name", "starts_with": "T"},
        "role_hierarchy": HIERARCHY,
        "steps": [
            {
                "name": "a",
                "assignee": {"role": "Sales manager"},
                "deadline": "2h",
                "escalate": {"to": "next_role"},
            }
        ],
    },
    {
        "name": "solo",
        "module": "Opportunities",
        "on": ["created"],
        "when": {"field": "name", "starts_with": "S"},
        "steps": [
            {"name": "a", "assignee": {"user": "sally"}, "deadline": "2h", "escalate": {"to": "manager"}}
        ],
    },
]


class _Server:
    """The emulator on http://127.0.0.1:PORT, each request a little slow (so a kill lands mid-pass)."""

    def __init__(self, emulator: RestV4Emulator, delay: float):
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                with lock:
                    status, headers, text = emulator._handle(SimpleNamespace(body=body))
                data = text.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_killed_escalation_pass_run_again_escalates_each_breach_exactly_once(
    office_factory, smtp_server, tmp_path
):
    o = office_factory(routes=ROUTES, lock_seconds=2)
    team = [
        o.save(
            "u-seller",
            "Opportunities",
            {"name": f"T{i}", "sales_stage": "Prospecting", "assigned_user_id": "u-seller"},
        )
        for i in range(4)
    ]
    solo = [
        o.save(
            "u-seller",
            "Opportunities",
            {"name": f"S{i}", "sales_stage": "Prospecting", "assigned_user_id": "u-seller"},
        )
        for i in range(4)
    ]
    breached = {r.id for rid in team + solo for r in o.open_steps(rid)}
    assert len(breached) == 4 * 2 + 4
    o.crm.validated, o.crm.pushed = set(), set()  # the job's writes: no hooks needed here
    emulator = RestV4Emulator(
        o.crm, base_url="http://placeholder", username="sidecar", password=PASSWORD, user_id="u-sidecar"
    )
    server = _Server(emulator, delay=0.0)
    emulator.base_url = server.url
    cfg = tmp_path / "suitecrm-ext.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "suitecrm": {
                    "url": server.url,
                    "write_via": "rest",
                    "retries": 0,
                    "rest": {"username": "sidecar", "password": PASSWORD},
                },
                "state": {"backend": "sqlite", "path": str(tmp_path / "job-state.sqlite3")},
                "smtp": smtp_server.settings(sender="crm@example.test"),
                "plugins": {
                    "routing": {
                        "service_user": "sidecar",
                        "routes": ROUTES,
                        "role_hierarchy": HIERARCHY,
                        "lock_seconds": 2,
                    }
                },
            }
        )
    )
    args = [
        sys.executable,
        "-c",
        "import sys; from suitecrm_ext.cli import main; sys.exit(main())",
        "--config",
        str(cfg),
        "jobs",
        "run",
        "routing-escalate",
        "--worker-id",
        "w1",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        for kill_after in (9, 24):  # API writes seen before the kill
            start = emulator.count("set_entry")
            child = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path
            )
            deadline = time.monotonic() + 60
            while emulator.count("set_entry") - start < kill_after and child.poll() is None:
                assert time.monotonic() < deadline, "the job never got going"
                time.sleep(0.005)
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-3000:]
        escalated_before_rerun = {
            r.id for r in o.crm.records("rt_RouteSteps") if r.get("status") == "escalated"
        }
        assert 0 < len(escalated_before_rerun) < len(breached)
        time.sleep(2.1)  # the killed pass's run lease runs out
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        again = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert "0 escalated" in again.stdout, again.stdout + again.stderr[-2000:]
    finally:
        server.close()

    steps = [r for r in o.crm.records("rt_RouteSteps") if not r.deleted]
    originals = [r for r in steps if r.id in breached]
    assert {r.get("status") for r in originals} == {"escalated"}
    ups = [r for r in steps if r.get("escalated_from_id")]
    # a team seat (Max and Mia) goes to the one Sales director; a solo seat (Sally) to her manager Max
    per_run: dict[str, list] = {}
    for r in ups:
        per_run.setdefault(r.get("run_id"), []).append(r)
    assert len(per_run) == 8 and all(len(v) == 1 for v in per_run.values()), textwrap.shorten(
        str(per_run), 500
    )
    by_record = {r.get("parent_id"): r.get("assigned_user_id") for r in ups}
    assert {by_record[t] for t in team} == {"u-dir"} and {by_record[s] for s in solo} == {"u-mgr1"}
    log = [d for d in o.crm.records("sx_Decisions") if d.get("decision") == "escalated"]
    assert sorted(d.get("decision_key") for d in log) == sorted({d.get("decision_key") for d in log})
    assert len(log) == len(breached)
    tasks = [
        t
        for t in o.crm.records("Tasks")
        if "ref: routing" in (t.get("description") or "")
        and t.get("assigned_user_id") in ("u-dir", "u-mgr1")
        and t.get("status") == "Not Started"
    ]
    assert len(tasks) == 8  # one Task per new step record, none twice
