"""`make bench` / `make bench-quick`: start the bench servers, prepare the template
database, run every benchmark module in its own process, merge bench/results.json.

    python -m bench.run [--quick] [booking pdf pipeline screens]

Naming benchmarks runs only those and keeps the other sections of the results file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

from flux import devservers

from . import common, report
from .common import OUT, RESULTS, ROOT, log

BENCHMARKS = ["booking", "pdf", "pipeline", "screens"]

# Every key the results file must hold: a benchmark that ran but left one out failed.
REQUIRED = {
    "booking": ["rawsql_latency_ms", "rawsql_tps", "bare_latency_ms", "bare_tps",
                "http_latency_ms", "http_tps", "clients", "refused_share", "oversold",
                "latency_1k_ms", "latency_1m_ms", "index_scans_only"],
    "pdf": ["floor_ms", "invoice_1_line_ms", "invoice_10_lines_ms", "same_html_from_file_ms"],
    "pipeline": ["invoices", "wall_s", "per_second", "emails_distinct", "rss_mb_at_100",
                 "rss_mb_at_1000"],
    "screens": [],  # per screen: median_ms, queries, queries_one_row (checked below)
}
SCREEN_KEYS = ["median_ms", "queries", "queries_one_row"]

# The production settings (DEBUG off), as the Dockerfile runs them, minus TLS: the
# benchmarks speak plain HTTP on the loopback.
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "FLUX_TESTING": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "0",
    "STATIC_ROOT": str(OUT / "static"),
    "MEDIA_ROOT": str(OUT / "media"),
    "EMAIL_URL": "smtp://127.0.0.1:9",  # the pipeline benchmark brings its own sink
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
}


def start_servers() -> list[Any]:
    """The machine's servers when BENCH_SERVER_URL / REDIS_URL are given, else embedded
    ones under var/ (PostgreSQL with its default durability, as in production)."""
    handles: list[Any] = []
    if not os.environ.get("BENCH_SERVER_URL"):
        url, server = devservers.start_postgres("pgbench", database="postgres")
        os.environ["BENCH_SERVER_URL"] = url
        handles.append(server)
    if not os.environ.get("REDIS_URL"):
        url, redis = devservers.start_redis("redis-bench")
        os.environ["REDIS_URL"] = url
        handles.append(redis)
    return handles


def python(*args: str, timeout: float | None = None) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, timeout=timeout)


def prepare() -> None:
    """Static files for DEBUG off, and the migrated template database with the demo
    practice (complete practice details, products, packages, users)."""
    common.admin_sql(f'DROP DATABASE IF EXISTS "{common.TEMPLATE_DB}" WITH (FORCE)')
    common.admin_sql(f'CREATE DATABASE "{common.TEMPLATE_DB}"')
    os.environ["DATABASE_URL"] = common.database_url(common.TEMPLATE_DB)
    python("manage.py", "collectstatic", "--no-input", "-v0")
    python("manage.py", "migrate", "--no-input", "-v0")
    python("-c", "import django; django.setup(); from core.demo import load_demo; load_demo()")
    del os.environ["DATABASE_URL"]


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip()
                for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {
        "cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
        "postgresql": common.server_version(), "date": datetime.date.today().isoformat(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


def problems(results: dict[str, Any], ran: list[str]) -> list[str]:
    """What makes this run a failure: a missing value or a wrong count, never a speed."""
    found = []
    for name in ran:
        section = results.get(name)
        if not isinstance(section, dict):
            found.append(f"{name}: no results")
            continue
        for key in REQUIRED[name]:
            if section.get(key) is None:
                found.append(f"{name}: {key} missing")
    if "screens" in ran and isinstance(results.get("screens"), dict):
        screens = results["screens"]
        if not screens:
            found.append("screens: no screens measured")
        for screen, values in screens.items():
            if not isinstance(values, dict):
                continue
            found += [f"screens.{screen}: {key} missing" for key in SCREEN_KEYS
                      if values.get(key) is None]
    if results.get("booking", {}).get("oversold") not in (None, 0):
        found.append(f"booking: {results['booking']['oversold']} bookings beyond the credits")
    pipeline = results.get("pipeline", {})
    if pipeline.get("emails_distinct") not in (None, pipeline.get("invoices")):
        found.append(f"pipeline: {pipeline['emails_distinct']} distinct emails for "
                     f"{pipeline['invoices']} invoices")
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the small versions (≤ 90 s)")
    parser.add_argument("names", nargs="*", help=", ".join(BENCHMARKS))
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}")
    ran = args.names or BENCHMARKS
    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.update(PRODUCTION_ENV | {"BENCH_QUICK": "1" if args.quick else "0"})
    handles = start_servers()
    try:
        prepare()
        results: dict[str, Any] = {}
        if args.names and RESULTS.exists():
            results = json.loads(RESULTS.read_text())
        results["machine"] = machine()
        results["mode"] = "quick" if args.quick else "full"
        failed = []
        for name in ran:
            (OUT / f"{name}.json").unlink(missing_ok=True)
            log(f"{name} …")
            begun = time.monotonic()
            code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT)
            log(f"{name} took {time.monotonic() - begun:.1f} s (exit {code})")
            fragment = OUT / f"{name}.json"
            if code != 0 or not fragment.exists():
                failed.append(f"{name}: exited {code}")
                results[name] = None
                continue
            results[name] = json.loads(fragment.read_text())
        results["machine"]["seconds"] = round(time.monotonic() - started, 1)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        failed += problems(results, ran)
        if not args.quick and not failed and set(BENCHMARKS) <= set(results):
            report.write(results)
    finally:
        devservers.stop_servers(handles)
    log(f"wrote {RESULTS.relative_to(ROOT)} in {time.monotonic() - started:.0f} s")
    for problem in failed:
        log("FAILED:", problem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
