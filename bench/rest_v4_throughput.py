"""REST v4_1 transport throughput over real HTTP on loopback (not part of the test run).

Serves the test suite's REST v4_1 emulator (tests/crm/emulators/rest.py, data in a FakeCRM) with a real
``http.server`` on 127.0.0.1 and drives :class:`RestV4CRM` against it:

- writes: ``save_many`` (``set_entries`` in batches of 100) vs the naive loop of ``save`` (one
  ``set_entry`` per record) — records/s and the ratio;
- reads: ``find`` over every record with page_size 200 vs 20 — records/s and the ratio;
- per-request latency percentiles (p50/p95/p99) of each run.

The server is in-process and in-memory, so the figures measure the client, HTTP and JSON cost — the
part this code controls — not SuiteCRM's PHP and SQL time. Usage::

    python bench/rest_v4_throughput.py [--records 3000]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from crm.emulators.rest import RestV4Emulator  # noqa: E402

from suitecrm_ext.crm.fake import FakeCRM  # noqa: E402
from suitecrm_ext.crm.rest_v4 import RestV4CRM  # noqa: E402

USER, PASSWORD = "admin", "bench-password"


def serve(emulator: RestV4Emulator) -> ThreadingHTTPServer:
    """Run the emulator behind a real HTTP server on a free loopback port."""

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms each
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:  # the FakeCRM behind it is not thread-safe
                status, headers, text = emulator._handle(SimpleNamespace(body=body))
            data = text.encode("utf-8")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed_client(url: str, page_size: int = 200) -> tuple[RestV4CRM, list[float]]:
    """A client whose every HTTP request duration (seconds) is appended to the returned list."""
    crm = RestV4CRM(url, USER, PASSWORD, page_size=page_size)
    latencies: list[float] = []
    original = crm.http.request

    def request(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            latencies.append(time.perf_counter() - t0)

    crm.http.request = request  # type: ignore[method-assign]
    return crm, latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def report(label: str, n: int, seconds: float, latencies: list[float]) -> float:
    rate = n / seconds
    p50, p95, p99 = (pct(latencies, p) for p in (50, 95, 99))
    print(f"{label:<40} {n:>6} rec {seconds:7.2f} s {rate:8.0f} rec/s {len(latencies):>5} requests  "
          f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms")
    return rate


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    args = parser.parse_args()
    n = args.records

    store = FakeCRM(["Accounts"], page_size=10**9)
    emulator = RestV4Emulator(store, base_url="http://127.0.0.1", username=USER, password=PASSWORD)
    server = serve(emulator)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    emulator.endpoint = url + "/service/v4_1/rest.php"
    rows = [{"name": f"Bench account {i:06d}", "account_type": "Customer", "industry": "Banking",
             "description": "x" * 200} for i in range(n)]
    print(f"REST v4_1 over loopback HTTP, {n} Accounts, python {sys.version.split()[0]}")

    crm, lat = timed_client(url)
    crm.fields("Accounts")
    lat.clear()
    t0 = time.perf_counter()
    crm.save_many("Accounts", rows)
    batched = report("save_many (set_entries, 100/batch)", n, time.perf_counter() - t0, lat)

    naive, lat = timed_client(url)
    naive.fields("Accounts")
    lat.clear()
    t0 = time.perf_counter()
    for row in rows:
        naive.save("Accounts", row)
    single = report("naive: save() per record (set_entry)", n, time.perf_counter() - t0, lat)
    print(f"{'  ratio batched / naive':<42} {batched / single:.1f}x")

    total = store.count("Accounts")
    for page_size in (200, 20):
        reader, lat = timed_client(url, page_size=page_size)
        reader.fields("Accounts")
        lat.clear()
        t0 = time.perf_counter()
        got = sum(1 for _ in reader.find("Accounts", fields=["name", "date_modified"]))
        assert got == total, (got, total)
        rate = report(f"find, page_size {page_size}", got, time.perf_counter() - t0, lat)
        if page_size == 200:
            big = rate
        else:
            print(f"{'  ratio page 200 / page 20':<42} {big / rate:.1f}x")
        reader.close()
    crm.close()
    naive.close()
    server.shutdown()
    print(f"(median request {statistics.median(lat) * 1000:.1f} ms on the last run)")


if __name__ == "__main__":
    main()
