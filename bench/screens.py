"""Screens at scale: with 10,000 patients, 100,000 appointments and 1,000,000 ledger entries,
the median server time of the busiest screens and their SQL query counts, which must equal
the counts with one row on the page.

In-process, through django.test.Client logged in as the role that uses the screen, with
the production settings the runner exports (DEBUG off). Times are interleaved medians after
a warm-up; counts come from separate requests under CaptureQueriesContext (which turns on
the cursor wrapper that records them, so those requests are not timed).

Screens: the calendar week of the busiest practitioner in their busiest week, and the
all-practitioners day of the busiest day (extra); the patient page of the patient with the
longest history, with its Appointments and Packages (credit history) tabs (extras); the
invoice list; Settings → Invoices → Packages. The one-row database is the demo practice
plus one seeded patient with one appointment, its credits and one invoice.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

from . import common, seed

SIZES = common.pick({"patients": 300, "appointments": 2_000, "entries": 10_000},
                    {"patients": 10_000, "appointments": 100_000, "entries": 1_000_000})
LARGE, ONE_ROW = "bench_screens", "bench_screens_one"
REPEAT = common.pick(5, 7)

seed.ensure_large(LARGE, **SIZES)
# One patient, one appointment of the credit package (reservation and outcome: 2 entries,
# its lot 2 more), one invoice; no extra packages.
seed.ensure_large(ONE_ROW, patients=1, appointments=1, entries=4, credit_share=1.0)
common.use_database(LARGE)

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.db.models.functions import TruncDate, TruncWeek  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from invoicing.invoice_models import Invoice  # noqa: E402
from packages.ledger_models import CreditEntry  # noqa: E402
from packages.models import Package  # noqa: E402
from scheduling.models import Appointment  # noqa: E402

Screen = tuple[str, str, int]  # role's username, URL, rows behind it (paged lists show a page)


def switch_to(name: str) -> None:
    """Point the process's one connection at another database of the same server."""
    connections.close_all()
    connection.settings_dict["NAME"] = name


def screens() -> dict[str, Screen]:
    """The screens of the current database, each with what it shows."""
    # The seeded practitioners (the demo's one has this week's dozen appointments).
    active = Appointment.objects.filter(status__in=Appointment.ACTIVE,
                                        practitioner__username__startswith="fysio")
    busiest = (active.annotate(week=TruncWeek("start")).values("practitioner", "week")
               .annotate(n=Count("id")).order_by("-n", "practitioner", "week").first())
    assert busiest is not None
    monday: datetime.date = busiest["week"].date()
    day = (active.filter(start__date__gte=monday,
                         start__date__lt=monday + datetime.timedelta(days=7))
           .annotate(day=TruncDate("start")).values("day").annotate(n=Count("id"))
           .order_by("-n", "day").first())
    assert day is not None
    long = (Appointment.objects.filter(patient__invoices__isnull=False).distinct()
            .values("patient").annotate(n=Count("id", distinct=True))
            .order_by("-n", "patient").first())
    assert long is not None
    patient = long["patient"]
    history = CreditEntry.objects.filter(lot__balance__patient=patient).count()
    packages = Package.objects.count()
    return {
        "calendar_week": ("balie", reverse("calendar") + f"?view=week&date={monday}"
                          f"&practitioner={busiest['practitioner']}", busiest["n"]),
        "calendar_all_day": ("balie", reverse("calendar") + f"?view=all&date={day['day']}",
                             day["n"]),
        "patient": ("balie", reverse("patient", args=[patient]), 1),
        "patient_appointments": ("balie", reverse("patient-appointments", args=[patient]),
                                 long["n"]),
        "patient_packages": ("balie", reverse("patient-packages", args=[patient]), history),
        "invoices": ("balie", reverse("invoices"), min(Invoice.objects.count(), 25)),
        "packages": ("admin", reverse("packages-list"), min(packages, 50)),
    }


def clients() -> dict[str, Client]:
    made = {}
    for username in ("balie", "admin"):
        made[username] = Client()
        made[username].force_login(User.objects.get(username=username))
    return made


def get(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        get(client, url)
    return len(captured.captured_queries)


def measure_one_row() -> dict[str, dict[str, int]]:
    switch_to(ONE_ROW)
    found, people = screens(), clients()
    result = {name: {"queries": queries(people[user], url), "rows": rows}
              for name, (user, url, rows) in found.items()}
    switch_to(LARGE)
    return result


def measure_large() -> dict[str, dict[str, Any]]:
    found, people = screens(), clients()
    runs: dict[str, Callable[[], None]] = {name: functools.partial(get, people[user], url)
            for name, (user, url, _rows) in found.items()}
    for run in runs.values():  # warm-up: templates, caches, the server's buffers
        run()
        run()
    samples = common.interleaved(runs, REPEAT)
    return {name: {"median_ms": common.median_ms(samples[name]),
                   "queries": queries(people[user], url), "rows": rows, "url": url}
            for name, (user, url, rows) in found.items()}


def main() -> None:
    one_row = measure_one_row()
    large = measure_large()
    results: dict[str, Any] = {}
    for name, values in large.items():
        results[name] = {
            "median_ms": values["median_ms"], "queries": values["queries"],
            "queries_one_row": one_row[name]["queries"], "rows": values["rows"],
            "rows_one_row": one_row[name]["rows"], "url": values["url"],
        }
        common.log(f"{name}: {values['median_ms']} ms, {values['queries']} queries "
                   f"({one_row[name]['queries']} with one row), {values['rows']} rows")
    common.write_section("screens", results)


main()
