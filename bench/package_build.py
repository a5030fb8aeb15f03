"""Benchmark: schema loading/validation and package building for a large synthetic schema.

Not part of the test run. Prints fields/s for load+validate (YAML with line tracking + every rule),
against a naive baseline in the same process (plain ``yaml.safe_load`` of the same text, no checks),
and build / zip times with percentiles.

    python bench/package_build.py [--modules 40] [--fields 50] [--runs 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from suitecrm_ext.packaging.builder import package_files
from suitecrm_ext.packaging.ddl import ddl
from suitecrm_ext.packaging.schema import load_schema

TYPES = ["varchar", "text", "int", "decimal", "bool", "date", "datetime", "enum", "multienum", "currency"]


def synthetic(modules: int, fields: int) -> str:
    """A schema with ``modules`` modules of ``fields`` fields, a relationship each, custom fields."""
    lab = {"en_us": "Label", "ru_ru": "Метка"}
    data: dict = {
        "package": {"id": "bench", "name": "bench", "version": "1.0.0"},
        "dropdowns": {"b_list": {f"k{i}": lab for i in range(20)}},
        "modules": [],
        "relationships": [],
        "custom_fields": {
            "Accounts": [{"name": f"b_f{i}_c", "type": "varchar", "label": lab} for i in range(fields)]
        },
    }
    for m in range(modules):
        fs = []
        for f in range(fields):
            t = TYPES[f % len(TYPES)]
            fd = {"name": f"f{f}", "type": t, "label": lab}
            if t in ("enum", "multienum"):
                fd["options"] = "b_list"
            fs.append(fd)
        name = f"b_Mod{m}"
        data["modules"].append(
            {
                "name": name,
                "label": {"singular": lab, "plural": lab},
                "template": "assignable",
                "audited": True,
                "fields": fs,
            }
        )
        data["relationships"].append(
            {"name": f"b_mod{m}_accounts", "type": "one-to-many", "lhs": "Accounts", "rhs": name}
        )
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", type=int, default=40)
    ap.add_argument("--fields", type=int, default=50)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    text = synthetic(args.modules, args.fields)
    n_fields = args.modules * args.fields + args.fields
    schema = load_schema(text, "bench")
    published = dt.datetime(2026, 1, 1)

    naive = timed(lambda: yaml.safe_load(text), args.runs)
    full = timed(lambda: load_schema(text, "bench"), args.runs)
    build = timed(lambda: package_files(schema, published), args.runs)
    pkg = package_files(schema, published)
    with tempfile.TemporaryDirectory() as tmp:
        zips = timed(lambda: pkg.write_zip(Path(tmp) / "b.zip"), args.runs)
        size = (Path(tmp) / "b.zip").stat().st_size
    ddls = timed(lambda: ddl(schema), args.runs)

    def line(label: str, xs: list[float], unit_count: int, unit: str) -> None:
        print(
            f"{label:<34} p50 {pct(xs, 50) * 1000:8.1f} ms  p95 {pct(xs, 95) * 1000:8.1f} ms  "
            f"{unit_count / statistics.median(xs):>12,.0f} {unit}/s"
        )

    print(
        f"schema: {args.modules} modules x {args.fields} fields + {args.fields} custom fields = "
        f"{n_fields} fields, "
        f"{len(text) // 1024} KiB YAML; {args.runs} runs each"
    )
    line("naive yaml.safe_load (baseline)", naive, n_fields, "fields")
    line("load_schema (lines + validation)", full, n_fields, "fields")
    print(f"{'':<34} ratio load_schema / naive = {statistics.median(full) / statistics.median(naive):.2f}x")
    line("package_files (build in memory)", build, len(pkg.files), "files")
    line("write_zip (deflate, sorted)", zips, len(pkg.files), "files")
    line("ddl (MariaDB statements)", ddls, n_fields, "fields")
    print(f"package: {len(pkg.files)} files, zip {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
