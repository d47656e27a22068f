"""One load client for every booking target: the raw-SQL floor over psycopg and the two
HTTP targets (the bare Django floor and ours) alike. Each client is a thread with its own
connection (HTTP: a new TCP connection per request, as gunicorn's sync workers close it);
latency is measured around the whole request, in the client."""

from __future__ import annotations

import http.client
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attempt:
    patient: int
    start: str  # ISO local date-time, a slot nobody else books
    key: str
    practitioner: int = 0


BOOKED, REFUSED, ERROR = "booked", "refused", "error"


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {BOOKED: 0, REFUSED: 0, ERROR: 0})
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return sum(self.counts.values())

    @property
    def per_second(self) -> float:
        return self.attempts / self.wall if self.wall else 0.0


# A target makes one client's sender: a callable that books one attempt and says how.
Sender = Callable[[Attempt], str]
Target = Callable[[], Sender]


def run(target: Target, attempts: Sequence[Attempt], clients: int) -> Outcome:
    """Book every attempt with `clients` concurrent clients, each taking the next one."""
    outcome = Outcome()
    lock = threading.Lock()
    queue = list(reversed(attempts))
    senders = [target() for _ in range(clients)]  # connect and log in before the clock
    ready = threading.Barrier(clients + 1)

    def work(send: Sender) -> None:
        ready.wait()
        while True:
            with lock:
                if not queue:
                    return
                attempt = queue.pop()
            began = time.perf_counter()
            try:
                result = send(attempt)
            except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
                result = ERROR
                with lock:
                    outcome.errors.append(repr(exc)[:300])
            took = time.perf_counter() - began
            with lock:
                outcome.latencies.append(took)
                outcome.counts[result] += 1

    threads = [threading.Thread(target=work, args=(send,)) for send in senders]
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    outcome.wall = time.perf_counter() - began
    return outcome


# --- the raw-SQL floor ---------------------------------------------------------------------

def rawsql(database_url: str) -> Target:
    import psycopg

    from . import floors

    def connect() -> Sender:
        conn = psycopg.connect(database_url)

        def send(attempt: Attempt) -> str:
            with conn.transaction(), conn.cursor() as cursor:
                booked = floors.book(cursor, attempt.patient, attempt.start, attempt.key)
            return BOOKED if booked else REFUSED

        return send

    return connect


# --- HTTP -----------------------------------------------------------------------------------

def request(base: str, method: str, path: str, body: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    data = urllib.parse.urlencode(body or {}) if body is not None else None
    head = {"Host": url.netloc} | (headers or {})
    if data is not None:
        head["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=head)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def bare(base: str) -> Target:
    def connect() -> Sender:
        def send(attempt: Attempt) -> str:
            response = request(base, "POST", "/book/", {
                "patient": attempt.patient, "start": attempt.start, "key": attempt.key})
            return {200: BOOKED, 409: REFUSED}.get(response.status, ERROR)

        return send

    return connect


class Browser:
    """Cookies and the CSRF token, as a logged-in browser holds them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        head = {"Origin": self.base, "Referer": self.base + path} | (headers or {})
        if cookie:
            head["Cookie"] = cookie
        response = request(self.base, method, path, body, head)
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def log_in(self, username: str, password: str) -> None:
        page = self.call("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)  # type: ignore[attr-defined]
        assert token, "no CSRF token on the login page"
        done = self.call("POST", "/login/", {"username": username, "password": password,
                                             "csrfmiddlewaretoken": token.group(1).decode()})
        assert done.status == 302 and "sessionid" in self.cookies, f"login failed: {done.status}"


def ours(base: str, *, username: str, password: str, appointment_type: int) -> Target:
    """The calendar's own booking endpoint, posted as its HTMX dialog posts it."""

    def connect() -> Sender:
        browser = Browser(base)
        browser.log_in(username, password)

        def send(attempt: Attempt) -> str:
            date, _, clock = attempt.start.partition("T")
            response = browser.call("POST", "/calendar/book/", {
                "patient": attempt.patient, "appointment_type": appointment_type,
                "practitioner": attempt.practitioner, "date": date, "time": clock[:5],
                "weeks": 1, "note": "", "idempotency_key": attempt.key,
            }, {"HX-Request": "true", "X-CSRFToken": browser.cookies["csrftoken"]})
            if response.status == 200 and response.headers.get("HX-Redirect"):
                return BOOKED
            if response.status == 422 and b"credits" in response.body:  # type: ignore[attr-defined]
                return REFUSED
            raise RuntimeError(f"booking answered {response.status}: "
                               f"{response.body[:300]!r}")  # type: ignore[attr-defined]

        return send

    return connect


def production_checks(base: str, *, username: str, password: str) -> dict[str, bool]:
    """What the measured server must be: CSRF refuses a booking posted without the token,
    and DEBUG is off (a missing page is Django's plain 404, not its debug page)."""
    browser = Browser(base)
    browser.log_in(username, password)
    no_token = browser.call("POST", "/calendar/book/", {"patient": 1}, {"HX-Request": "true"})
    missing = request(base, "GET", "/no-such-page/")
    return {"csrf_enforced": no_token.status == 403,
            "debug_off": missing.status == 404
            and b"URLconf" not in missing.body}  # type: ignore[attr-defined]
