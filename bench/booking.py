"""Benchmark 1: booking — ours against two floors, interleaved, then at a ledger of 1,000
and of 1,000,000 entries, with EXPLAIN of every query of the booking path.

- rawsql: floors.book over psycopg 3, one connection per client (no HTTP at all).
- bare:   the same statements in the barest Django view (bench/bare.py) behind gunicorn.
- http:   ours — the calendar's booking endpoint, logged in as a receptionist, CSRF on,
          DEBUG off, behind the same gunicorn with 2 workers, posted as its dialog posts.
Every patient holds 8 credits and is tried 10 times, so a fifth of the attempts are
refused; `oversold` counts bookings beyond a patient's credits in the database.

    python -m bench.booking                      (the benchmark; run it via bench.run)
    python -m bench.booking prepare DB N CREDITS (Django side: N patients with credits)
    python -m bench.booking explain DB           (Django side: EXPLAIN of one booking)
"""

from __future__ import annotations

import datetime
import json
import random
import statistics
import subprocess
import sys
import uuid
from typing import Any

from . import common, loadclient
from .loadclient import Attempt, Outcome

CLIENTS = 16
CREDITS = 8
TRIES_PER_PATIENT = 10  # 8 credits, 10 tries: 20 % of the attempts are refused
ROUNDS = common.pick(1, 5)
LATENCY_ATTEMPTS = common.pick(10, 30)  # single client, per round and target
LOAD_ATTEMPTS = common.pick(40, 160)  # 16 clients, per round and target
SCALE_ATTEMPTS = common.pick(10, 30)  # per round, at 1,000 and at 1,000,000 entries
USERNAME, PASSWORD = "balie", "flux-demo"  # the demo receptionist
# Tables that grow with use, as the seed fills them: a sequential scan on any of them is a
# finding. (Sessions, audit and outbox rows grow too but are not seeded: the planner rightly
# scans a table of a few rows; those scans are reported apart.)
GROWING = {
    "packages_creditentry", "packages_creditlot", "packages_creditbalance",
    "scheduling_appointment", "patients_patient", "invoicing_invoice",
    "invoicing_invoiceline",
}


# --- the Django side (own processes: each sets Django up on one database) ---------------

def prepare(patients: int, credits: int) -> dict[str, Any]:
    """Practitioners of our own (so no seeded appointment is in the way) and patients, with
    an email address, holding `credits` available credits of the demo's package, imported
    through the ledger's own write path."""
    from django.contrib.auth.models import Group, User

    from core.money import eur
    from core.roles import Role
    from packages.services import import_credits
    from patients.models import Patient
    from scheduling.models import AppointmentType

    admin = User.objects.get(username="admin")
    kind = AppointmentType.objects.get(name="Behandeling fysiotherapie")
    assert kind.package is not None and kind.credits == 1
    group = Group.objects.get(name=Role.PRACTITIONER)
    practitioners = []
    for i in range(4):
        user, _ = User.objects.get_or_create(username=f"bench-practitioner-{i}",
                                             defaults={"first_name": f"Bench {i}"})
        user.groups.add(group)
        practitioners.append(user.pk)
    made = []
    for i in range(patients):
        # With an email address, so each booking queues its confirmation, as in a practice.
        patient = Patient.objects.create(first_name=f"Bench{i}", last_name="Booking",
                                         date_of_birth=datetime.date(1980, 1, 1),
                                         email=f"bench{i}@example.nl")
        import_credits(patient=patient, package=kind.package, credits=credits,
                       value_per_credit=eur("60.00"), expires_on=None, note="benchmark",
                       key=f"bench-import-{patient.pk}", by=admin)
        made.append(patient.pk)
    return {"type": kind.pk, "practitioners": practitioners, "patients": made}


def explain() -> dict[str, Any]:
    """Book once through the endpoint in this process, capture every query, and EXPLAIN
    each with the planner's own choice (statistics fresh, sequential scans allowed)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    setup = prepare(1, CREDITS)
    client = Client()
    client.force_login(User.objects.get(username=USERNAME))
    start = datetime.datetime.now() + datetime.timedelta(days=400)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/calendar/book/", {
            "patient": setup["patients"][0], "appointment_type": setup["type"],
            "practitioner": setup["practitioners"][0], "date": start.date().isoformat(),
            "time": "10:00", "weeks": 1, "note": "", "idempotency_key": uuid.uuid4().hex,
        }, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.get("HX-Redirect"), response.status_code
    plans = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.split(None, 1)[0].upper() not in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
            continue  # SAVEPOINT, RELEASE …
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
        scans = sorted(set(seq_scans(plan[0]["Plan"] if isinstance(plan, list) else plan)))
        plans.append({"sql": sql[:160], "seq_scans": scans})
    growing = sorted({t for p in plans for t in p["seq_scans"] if t in GROWING})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM packages_creditentry")
        entries = cursor.fetchone()[0]
    return {"queries": len(captured.captured_queries), "explained": len(plans),
            "entries": entries, "seq_scans_on_growing_tables": growing,
            "seq_scans_on_small_tables": sorted({t for p in plans for t in p["seq_scans"]}
                                                - set(growing)),
            "index_scans_only": not growing,
            "findings": [p["sql"] for p in plans if set(p["seq_scans"]) & GROWING]}


def seq_scans(node: dict[str, Any]) -> list[str]:
    found = [node["Relation Name"]] if node.get("Node Type") == "Seq Scan" else []
    for child in node.get("Plans", []):
        found += seq_scans(child)
    return found


def django_side(command: str, database: str, *args: str) -> dict[str, Any]:
    """Run `prepare`/`explain` in a process of its own on `database`."""
    return prepare_all({database: (command, *args)})[database]


def prepare_all(jobs: dict[str, tuple[str, ...]]) -> dict[str, dict[str, Any]]:
    """Django-side commands on several databases at once, one process each."""
    running = {db: subprocess.Popen([sys.executable, "-m", "bench.booking", job[0], db, *job[1:]],
                                    cwd=common.ROOT, stdout=subprocess.PIPE, text=True)
               for db, job in jobs.items()}
    done = {}
    for db, process in running.items():
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"bench.booking {jobs[db][0]} {db} exited {process.returncode}")
        done[db] = dict(json.loads(out.strip().splitlines()[-1]))
    return done


# --- the attempts ----------------------------------------------------------------------------

class Slots:
    """A start nobody else books for every attempt: 30-minute steps over four
    practitioners, from a month ahead."""

    def __init__(self, practitioners: list[int]) -> None:
        self.practitioners = practitioners
        self.first = datetime.datetime.combine(
            datetime.date.today() + datetime.timedelta(days=30), datetime.time(0, 0))
        self.taken = 0

    def next(self) -> tuple[int, str]:
        i, self.taken = self.taken, self.taken + 1
        start = self.first + datetime.timedelta(minutes=30 * (i // len(self.practitioners)))
        return self.practitioners[i % len(self.practitioners)], start.isoformat(timespec="minutes")


def attempts(patients: list[int], slots: Slots, seed: int) -> list[Attempt]:
    """Each patient tried TRIES_PER_PATIENT times, in an order that is the same for every
    target (so the lock contention is too)."""
    order = [p for p in patients for _ in range(TRIES_PER_PATIENT)]
    random.Random(seed).shuffle(order)
    made = []
    for patient in order:
        practitioner, start = slots.next()
        made.append(Attempt(patient, start, uuid.uuid4().hex, practitioner))
    return made


class Pool:
    """Hands out patients that nobody tried yet, per target."""

    def __init__(self, patients: list[int]) -> None:
        self.left = list(patients)

    def take(self, count: int) -> list[int]:
        taken, self.left = self.left[:count], self.left[count:]
        assert len(taken) == count, "prepare more patients"
        return taken


def patients_for(count: int) -> int:
    return count // TRIES_PER_PATIENT


# --- measuring ------------------------------------------------------------------------------

def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    latencies = [t for o in outcomes for t in o.latencies]
    return {"attempts": sum(o.attempts for o in outcomes),
            "booked": sum(o.counts["booked"] for o in outcomes),
            "refused": sum(o.counts["refused"] for o in outcomes),
            "errors": sum(o.counts["error"] for o in outcomes),
            "median_ms": common.median_ms(latencies) if latencies else None,
            "p95_ms": common.ms(statistics.quantiles(latencies, n=20)[-1])
            if len(latencies) >= 20 else None,
            "per_second": round(statistics.median(o.per_second for o in outcomes), 1),
            "error_samples": [e for o in outcomes for e in o.errors][:3]}


def oversold_in(database: str, sql: str, patients: list[int]) -> int:
    """Bookings beyond the credits, counted in the database itself."""
    import psycopg

    with psycopg.connect(common.database_url(database)) as conn:
        rows = conn.execute(sql, [patients]).fetchall()
    return sum(max(0, booked - CREDITS) for _, booked in rows)


OURS_BOOKED = """SELECT patient_id, count(*) FROM scheduling_appointment
                 WHERE patient_id = ANY(%s) AND status NOT IN ('cancelled', 'late_cancelled')
                 GROUP BY patient_id"""
FLOOR_BOOKED = """SELECT patient_id, count(*) FROM floor_appointment
                  WHERE patient_id = ANY(%s) GROUP BY patient_id"""


def against_floors(database: str, setup: dict[str, Any], ours_url: str,
                   bare_url: str) -> dict[str, Any]:
    import psycopg

    from . import floors

    ours_patients: list[int] = setup["patients"]
    # The two floors share the floor tables, so each gets patients of its own.
    count = len(ours_patients)
    raw_patients, bare_patients = list(range(1, count + 1)), list(range(count + 1, 2 * count + 1))
    with psycopg.connect(common.database_url(database)) as conn:
        floors.load(conn, dict.fromkeys(raw_patients + bare_patients, CREDITS))
    targets = {
        "rawsql": (loadclient.rawsql(common.database_url(database)), raw_patients),
        "bare": (loadclient.bare(bare_url), bare_patients),
        "http": (loadclient.ours(ours_url, username=USERNAME, password=PASSWORD,
                                 appointment_type=setup["type"]), ours_patients),
    }
    pools = {name: Pool(patients) for name, (_, patients) in targets.items()}
    slots = {name: Slots(setup["practitioners"]) for name in targets}
    single: dict[str, list[Outcome]] = {name: [] for name in targets}
    loaded: dict[str, list[Outcome]] = {name: [] for name in targets}
    # Warm every target up (imports, connections, first queries) off the clock.
    for name, (target, _) in targets.items():
        loadclient.run(target, attempts(pools[name].take(1), slots[name], 0), 1)
    for r in range(ROUNDS):
        for phase, tries_per_target, clients, into in (
                ("single", LATENCY_ATTEMPTS, 1, single),
                ("load", LOAD_ATTEMPTS, CLIENTS, loaded)):
            for name, (target, _) in targets.items():
                tries = attempts(pools[name].take(patients_for(tries_per_target)),
                                 slots[name], seed=1000 * r + tries_per_target)
                into[name].append(loadclient.run(target, tries, clients))
                common.log(f"booking {name} {phase} round {r + 1}: "
                           f"{into[name][-1].per_second:.0f}/s")
    result: dict[str, Any] = {name: {"single": summary(single[name]),
                                     "load": summary(loaded[name])} for name in targets}
    result["oversold"] = oversold_in(database, OURS_BOOKED, ours_patients)
    result["floor_oversold"] = oversold_in(database, FLOOR_BOOKED, raw_patients + bare_patients)
    return result


def at_scale(urls: dict[str, str],
             setups: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Our single-client latency on each database (a ledger of 1,000 and of 1,000,000
    entries), rounds alternating between them."""
    targets = {db: loadclient.ours(url, username=USERNAME, password=PASSWORD,
                                   appointment_type=setups[db]["type"])
               for db, url in urls.items()}
    pools = {db: Pool(setups[db]["patients"]) for db in urls}
    slots = {db: Slots(setups[db]["practitioners"]) for db in urls}
    samples: dict[str, list[Outcome]] = {db: [] for db in urls}
    for db in urls:
        loadclient.run(targets[db], attempts(pools[db].take(1), slots[db], 0), 1)
    for r in range(ROUNDS):
        for db in urls:
            tries = attempts(pools[db].take(patients_for(SCALE_ATTEMPTS)), slots[db], seed=r)
            samples[db].append(loadclient.run(targets[db], tries, 1))
    return {db: summary(outcomes) for db, outcomes in samples.items()}


def ratio(ours: float, floor: float) -> float:
    return round(ours / floor, 2)


def main() -> None:
    from . import seed

    database = common.clone_database("bench_booking")
    sizes = common.pick({"patients": 300, "appointments": 2_000, "entries": 10_000},
                        {"patients": 10_000, "appointments": 100_000, "entries": 1_000_000})
    # Databases of our own (the screens benchmark has its own copy of the large one).
    small, large = "bench_booking_1k", "bench_booking_large"
    seed.ensure_large(small, patients=100, appointments=100, entries=1_000)
    seed.ensure_large(large, **sizes)
    floor_patients = ROUNDS * (patients_for(LATENCY_ATTEMPTS) + patients_for(LOAD_ATTEMPTS)) + 1
    scale_patients = ROUNDS * patients_for(SCALE_ATTEMPTS) + 1
    setups = prepare_all({
        database: ("prepare", str(floor_patients), str(CREDITS)),
        small: ("prepare", str(scale_patients), str(CREDITS)),
        large: ("prepare", str(scale_patients), str(CREDITS)),
    })
    with common.gunicorns(("flux.wsgi", database), ("bench.bare:application", database),
                          ("flux.wsgi", small), ("flux.wsgi", large)) as urls:
        checks = loadclient.production_checks(urls[0], username=USERNAME, password=PASSWORD)
        assert all(checks.values()), f"not the production settings: {checks}"
        floors_result = against_floors(database, setups[database], urls[0], urls[1])
        scale = at_scale({small: urls[2], large: urls[3]}, setups)
    scale = {"small": scale[small], "large": scale[large]}
    plans = django_side("explain", large)
    http, bare, raw = floors_result["http"], floors_result["bare"], floors_result["rawsql"]
    ours_attempts = http["single"]["attempts"] + http["load"]["attempts"]
    ours_refused = http["single"]["refused"] + http["load"]["refused"]
    result = {
        "rawsql_latency_ms": raw["single"]["median_ms"], "rawsql_tps": raw["load"]["per_second"],
        "bare_latency_ms": bare["single"]["median_ms"], "bare_tps": bare["load"]["per_second"],
        "http_latency_ms": http["single"]["median_ms"], "http_tps": http["load"]["per_second"],
        "clients": CLIENTS, **checks,
        "refused_share": round(ours_refused / ours_attempts, 3),
        "oversold": floors_result["oversold"],
        "latency_1k_ms": scale["small"]["median_ms"],
        "latency_1m_ms": scale["large"]["median_ms"],
        "ledger_entries_large": plans["entries"],
        "index_scans_only": plans["index_scans_only"],
        "ratios": {
            "http_to_bare_latency": ratio(http["single"]["median_ms"], bare["single"]["median_ms"]),
            "http_to_bare_tps": ratio(http["load"]["per_second"], bare["load"]["per_second"]),
            "bare_to_raw_latency": ratio(bare["single"]["median_ms"], raw["single"]["median_ms"]),
            "bare_to_raw_tps": ratio(bare["load"]["per_second"], raw["load"]["per_second"]),
            "large_to_small_latency": ratio(scale["large"]["median_ms"],
                                            scale["small"]["median_ms"]),
        },
        "errors": sum(t[p]["errors"] for t in (http, bare, raw) for p in ("single", "load"))
        + scale["small"]["errors"] + scale["large"]["errors"],
        "floor_oversold": floors_result["floor_oversold"],
        "detail": {"rawsql": raw, "bare": bare, "http": http, "scale": scale, "explain": plans},
    }
    common.write_section("booking", result)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        common.use_database(sys.argv[2])
        if sys.argv[1] == "prepare":
            out = prepare(int(sys.argv[3]), int(sys.argv[4]))
        else:
            out = explain()
        print(json.dumps(out, default=str))
    else:
        main()
