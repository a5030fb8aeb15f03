"""V8 JSON:API and SOAP v4_1 transport throughput over real HTTP on loopback (not part of the test run).

Serves the test suite's V8 and SOAP emulators (tests/crm/emulators/, data in a FakeCRM) with a real
``http.server`` on 127.0.0.1 and drives :class:`V8CRM` and :class:`SoapCRM` against them:

- reads: ``find`` over every record (V8 ``page[size]`` 100, SOAP ``max_results`` 200) vs the naive
  baseline run in the same process: one ``get`` per record id — records/s and the ratio;
- writes: V8 ``save`` per record (V8 has no bulk call) and SOAP ``save_many`` (``set_entries``, 100/batch);
- per-request latency percentiles (p50/p95/p99) of each run.

The servers are in-process and in-memory, so the figures measure the client, HTTP, JSON/XML (zeep) cost
plus the emulators' own (which grows with the data: the SOAP/REST emulator scans every stored row per
saved row) — not SuiteCRM's PHP and SQL time. Usage::

    python bench/api_transports.py [--records 2000]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from crm.emulators.soap import SoapEmulator  # noqa: E402
from crm.emulators.v8 import V8Emulator  # noqa: E402

from suitecrm_ext.crm.fake import FakeCRM  # noqa: E402
from suitecrm_ext.crm.soap import SoapCRM  # noqa: E402
from suitecrm_ext.crm.v8 import V8CRM  # noqa: E402

USER, PASSWORD = "admin", "bench-password"


def serve(handle) -> tuple[ThreadingHTTPServer, str]:
    """Run ``handle(request) -> (status, headers, text)`` behind a real HTTP server on a loopback port."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body leave in two packets: +40 ms delayed ACK

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            req = SimpleNamespace(method=self.command, url=f"http://127.0.0.1{self.path}", body=body or None,
                                  headers={k: v for k, v in self.headers.items()})
            with lock:  # the FakeCRM behind it is not thread-safe
                status, headers, text = handle(req)
            data = text.encode("utf-8")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _any  # noqa: N815 - http.server API

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def timed(session) -> list[float]:
    """Record every HTTP request duration (seconds) of a requests session."""
    latencies: list[float] = []
    original = session.request

    def request(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            latencies.append(time.perf_counter() - t0)

    session.request = request
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def report(label: str, n: int, seconds: float, latencies: list[float]) -> float:
    rate = n / seconds
    p50, p95, p99 = (pct(latencies, p) for p in (50, 95, 99))
    print(f"{label:<44} {n:>6} rec  {seconds:7.2f} s  {rate:8.0f} rec/s  {len(latencies):>5} requests  "
          f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms")
    return rate


def rows(n: int) -> list[dict]:
    return [{"name": f"Bench account {i:06d}", "account_type": "Customer", "industry": "Banking",
             "description": "x" * 200} for i in range(n)]


def bench_v8(n: int) -> None:
    store = FakeCRM(["Accounts", "Contacts"], page_size=10**9)
    emulator = V8Emulator(store, base_url="http://127.0.0.1", clock=time.time)
    server, url = serve(emulator._dispatch)
    emulator.base_url = url

    def client(page_size: int = 100) -> tuple[V8CRM, list[float]]:
        crm = V8CRM(url, emulator.client_id, emulator.client_secret, page_size=page_size)
        lat = timed(crm._session)
        crm.fields("Accounts")
        lat.clear()
        return crm, lat

    crm, lat = client()
    t0 = time.perf_counter()
    ids = [crm.save("Accounts", row) for row in rows(n)]
    report("V8 save() per record (POST, client id)", n, time.perf_counter() - t0, lat)

    crm, lat = client()
    t0 = time.perf_counter()
    got = sum(1 for _ in crm.find("Accounts", fields=["name", "date_modified"]))
    assert got == n, (got, n)
    paged = report("V8 find, page[size] 100", got, time.perf_counter() - t0, lat)

    naive, lat = client()
    t0 = time.perf_counter()
    for rid in ids:
        naive.get("Accounts", rid, ["name", "date_modified"])
    single = report("V8 naive: get() per id", n, time.perf_counter() - t0, lat)
    print(f"{'  ratio paged / naive':<44} {paged / single:.1f}x")
    server.shutdown()


def bench_soap(n: int) -> None:
    store = FakeCRM(["Accounts", "Contacts"], page_size=10**9)
    emulator = SoapEmulator(store, base_url="http://127.0.0.1", username=USER, password=PASSWORD)
    server, url = serve(emulator._handle_soap)

    def client(page_size: int = 200) -> tuple[SoapCRM, list[float]]:
        crm = SoapCRM(url, USER, PASSWORD, page_size=page_size)
        lat = timed(crm.http)
        crm.fields("Accounts")
        lat.clear()
        return crm, lat

    crm, lat = client()
    t0 = time.perf_counter()
    ids = crm.save_many("Accounts", rows(n))
    report("SOAP save_many (set_entries, 100/batch)", n, time.perf_counter() - t0, lat)

    crm, lat = client()
    t0 = time.perf_counter()
    got = sum(1 for _ in crm.find("Accounts", fields=["name", "date_modified"]))
    assert got == n, (got, n)
    paged = report("SOAP find, max_results 200", got, time.perf_counter() - t0, lat)

    naive, lat = client()
    t0 = time.perf_counter()
    for rid in ids:
        naive.get("Accounts", rid, ["name", "date_modified"])
    single = report("SOAP naive: get_entry per id", n, time.perf_counter() - t0, lat)
    print(f"{'  ratio paged / naive':<44} {paged / single:.1f}x")
    crm.close()
    server.shutdown()


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    print(f"V8 and SOAP over loopback HTTP, {args.records} Accounts, python {sys.version.split()[0]}")
    bench_v8(args.records)
    bench_soap(args.records)


if __name__ == "__main__":
    main()
