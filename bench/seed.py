"""The large practice the screen and booking benchmarks run against, seeded in SQL and
cached as a dump.

`ensure_large(name, patients=…, appointments=…, entries=…)` leaves database `name` on the
bench server holding the demo practice (a clone of common.TEMPLATE_DB) plus:

- a few practitioner users (role practitioner, working Monday to Friday 08:00–17:00);
- `patients` patients, their appointments skewed towards the first ones (patient 0 has
  about 1 % of them: a long history), so the screens meet both short and long histories;
- `appointments` appointments on a 30-minute grid per practitioner over past and future
  weeks (one slot holds one appointment, so the no-overlap exclusion constraint holds
  whatever the status), mixed types (the credit package's treatment, a plain treatment,
  a 45-minute intake in the day's last slot) and statuses;
- the credit ledger of the package appointments: per patient one balance, a lot of 10
  credits per 10 appointments (each sold on a paid invoice with one line and a payment),
  per appointment a reservation and its outcome (used, forfeited or released), and some
  patients an unpaid invoice with a pending lot. The issue asks for ten ledger entries per
  appointment, more than bookings make, so the remainder are reschedules (a release and a
  new reservation of the same appointment), as `ledger.move_reservation` writes them.
  Counters of lots and balances are set from the sums of their entries, so
  `manage.py check_ledger` is clean.

Rows go in with INSERT … SELECT generate_series (the ORM row by row would take an hour);
ids are explicit and every sequence is moved past them, so the ORM adds rows normally
afterwards. The result is dumped (pg_dump -Fc) under var/bench/cache/, keyed by the sizes,
the migrations, the demo loader, this file and the week (past and future are relative to
it), and restored from there next time.
"""

from __future__ import annotations

import datetime
import gettext
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from . import common

CACHE = common.OUT / "cache"
PACKAGE_NAME = "Fysio 10×"
PRODUCT_CODE = "FYS10"
LOT_CREDITS = 10
SLOTS_PER_DAY = 18  # 08:00 … 16:30, 30 minutes each
SLOTS_PER_WEEK = 5 * SLOTS_PER_DAY
PAST_SHARE = 0.75  # of the weeks lie before this week

FIRST_NAMES = ["Jan", "Fatima", "Sanne", "Pieter", "Emma", "Daan", "Lotte", "Mohammed",
               "Sophie", "Lucas", "Julia", "Thijs", "Noor", "Bram", "Eva", "Sem", "Anouk",
               "Yusuf", "Lisa", "Ruben", "Femke", "Milan", "Iris", "Jesse"]
LAST_NAMES = ["de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer",
              "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks",
              "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "El Amrani",
              "Yilmaz", "van Dijk", "Kok", "Jacobs", "Willems", "Hoekstra", "Koster"]
CITIES = ["Utrecht", "Zeist", "Nieuwegein", "Houten", "De Bilt", "Maarssen", "Bunnik"]


def cache_key(patients: int, appointments: int, entries: int, week: str) -> str:
    digest = hashlib.sha256(f"{patients}:{appointments}:{entries}:{week}".encode())
    root = common.ROOT
    files = sorted(root.glob("*/migrations/*.py")) + [root / "core" / "demo.py",
                                                      Path(__file__)]
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_large(name: str, *, patients: int, appointments: int, entries: int,
                 credit_share: float = 0.7) -> None:
    """Database `name`: the demo practice plus the large one, from the cached dump when
    there is one (then ANALYZEd), else seeded and dumped. `credit_share`: the share of
    appointments of the credit package's type (as far as `entries` reaches)."""
    today = datetime.date.today()
    iso = today.isocalendar()
    key = cache_key(patients, appointments, entries, f"{iso.year}-W{iso.week}:{credit_share}")
    dump = CACHE / f"large-{key}.dump"
    url = common.database_url(name)
    if dump.exists():
        started = time.perf_counter()
        common.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        common.admin_sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        subprocess.run([common.pg_tool("pg_restore"), "--no-owner", "--jobs", "2",
                        "--dbname", url, str(dump)], check=True)
        analyze(url)
        common.log(f"seed: restored {name} from {dump.name} in "
                   f"{time.perf_counter() - started:.1f} s")
        return
    started = time.perf_counter()
    common.clone_database(name)
    counts = seed(url, patients=patients, appointments=appointments, entries=entries,
                  today=today, credit_share=credit_share)
    seeded = time.perf_counter() - started
    analyze(url)
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = dump.with_suffix(f".{os.getpid()}.part")  # another process may dump too
    subprocess.run([common.pg_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(partial), url],
                   check=True)
    partial.replace(dump)
    common.log(f"seed: seeded {name} in {seeded:.1f} s ({json.dumps(counts)}), analyzed and "
               f"dumped in {time.perf_counter() - started - seeded:.1f} s more to {dump.name}")


def analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def one(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0] if len(row) == 1 else row


def next_id(conn: psycopg.Connection[Any], table: str) -> int:
    # Table names are ours, never input.
    return int(one(conn, f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}"))  # noqa: S608


def dutch(msgid: str) -> str:
    """A UI string as the Dutch locale has it (what an issued invoice snapshots)."""
    catalog = gettext.translation("django", common.ROOT / "locale", ["nl"], fallback=True)
    return catalog.gettext(msgid)


def seed(url: str, *, patients: int, appointments: int, entries: int,
         today: datetime.date, credit_share: float = 0.7) -> dict[str, int]:
    """Add the large practice to the database at `url` (a clone of the template)."""
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")  # one commit at the end; nothing to lose
        conn.execute("SELECT setseed(0.42)")  # the same practice every time
        ctx = context(conn)
        people = add_practitioners(conn, max(2, min(10, appointments // 2000)), ctx["group"])
        p0 = next_id(conn, "patients_patient")
        add_patients(conn, p0, patients)
        monday = today - datetime.timedelta(days=today.weekday())
        weeks = -(-appointments // (len(people) * SLOTS_PER_WEEK))
        # Never this week: the demo practice's appointments are there.
        first_monday = monday - datetime.timedelta(weeks=max(1, int(weeks * PAST_SHARE)))
        plan_appointments(conn, ctx, people, p0, patients, appointments, first_monday,
                          credit_share)
        add_packages(conn, ctx, min(12, patients // 100))
        plan_ledger(conn, ctx, entries)
        insert_all(conn, ctx)
        advance_sequences(conn)
        counts = {table: int(one(conn, f"SELECT COUNT(*) FROM {table}"))  # noqa: S608
                  for table in ("patients_patient", "scheduling_appointment",
                                "packages_creditentry", "packages_creditlot",
                                "invoicing_invoice")}
        conn.commit()
    return counts


def context(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """What the template holds that the seed refers to: the package, its product and
    appointment type, the other types, the front-desk user, the practice, first ids."""
    ctx: dict[str, Any] = {}
    (ctx["package"], ctx["ledger_account"], ctx["sheet_item"], ctx["free_hours"],
     ctx["late"], ctx["no_show"], ctx["validity_unit"], ctx["validity_count"]) = one(conn, """
        SELECT id, ledger_account_id, balance_sheet_item_id, free_cancel_hours,
               late_cancel_outcome, no_show_outcome, validity_unit, validity_count
        FROM packages_package WHERE name = %s AND is_active ORDER BY id LIMIT 1""",
        [PACKAGE_NAME])
    ctx["product"], ctx["product_name"], ctx["price"], ctx["vat_treatment"] = one(conn, """
        SELECT id, name, price, vat_treatment FROM invoicing_product WHERE code = %s""",
        [PRODUCT_CODE])
    ctx["credit_type"] = one(conn, "SELECT id FROM scheduling_appointmenttype "
                             "WHERE package_id = %s ORDER BY id LIMIT 1", [ctx["package"]])
    ctx["plain_type"] = one(conn, "SELECT id FROM scheduling_appointmenttype "
                            "WHERE name = 'Losse behandeling' ORDER BY id LIMIT 1")
    ctx["intake_type"] = one(conn, "SELECT id FROM scheduling_appointmenttype "
                             "WHERE name = 'Intake' ORDER BY id LIMIT 1")
    ctx["desk"] = one(conn, "SELECT id FROM auth_user WHERE username = 'balie'")
    ctx["group"] = one(conn, "SELECT id FROM auth_group WHERE name = 'practitioner'")
    practice = conn.execute("""
        SELECT name, street, postal_code, city, email, phone, kvk_number, vat_id, iban,
               payment_term_days, invoice_prefix FROM core_practice ORDER BY id LIMIT 1""")
    columns = [c.name for c in practice.description or []]
    row = dict(zip(columns, practice.fetchone() or (), strict=True))
    ctx["prefix"] = row.pop("invoice_prefix")
    ctx["term"] = row["payment_term_days"]
    # invoices.seller_snapshot; the demo practice has no logo, so none is snapshotted.
    ctx["seller"] = json.dumps(row | {"logo": ""})
    ctx["exemption"] = dutch("Exempt from VAT under article 11(1)(g) of the Dutch VAT Act "
                             "1968 (Wet op de omzetbelasting 1968): medical care.")
    for table in ("scheduling_appointment", "packages_creditbalance", "packages_creditlot",
                  "packages_creditentry", "invoicing_invoice", "invoicing_invoiceline",
                  "invoicing_payment"):
        ctx[table] = next_id(conn, table)
    return ctx


def add_practitioners(conn: psycopg.Connection[Any], count: int, group: int) -> list[int]:
    """Practitioners without a usable password (nobody logs in as them)."""
    ids = [row[0] for row in conn.execute("""
        INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                               is_staff, is_active, date_joined)
        SELECT '!seed', false, 'fysio' || n, (%(first)s::text[])[1 + n %% 24],
               (%(last)s::text[])[1 + (n * 7) %% 28], 'fysio' || n || '@demo.flux.test',
               false, true, now()
        FROM generate_series(1, %(count)s) n ORDER BY n RETURNING id""",
        {"first": FIRST_NAMES, "last": LAST_NAMES, "count": count}).fetchall()]
    conn.execute("INSERT INTO auth_user_groups (user_id, group_id) "
                 "SELECT unnest(%s::bigint[]), %s", [ids, group])
    conn.execute("""
        INSERT INTO scheduling_workinghours (practitioner_id, weekday, start, "end")
        SELECT u, d, time '08:00', time '17:00'
        FROM unnest(%s::bigint[]) u, generate_series(0, 4) d""", [ids])
    return ids


def add_packages(conn: psycopg.Connection[Any], ctx: dict[str, Any], count: int) -> None:
    """More packages for Settings → Packages, every third one archived and every other one
    sold by a product (the seeded credits are all in the demo package)."""
    if not count:
        return
    conn.execute("""
        WITH made AS (
            INSERT INTO packages_package (name, internal_rate, internal_rate_currency,
                ledger_account_id, balance_sheet_item_id, is_active, free_cancel_hours,
                late_cancel_outcome, no_show_outcome, validity_unit, validity_count)
            SELECT (%(kinds)s::text[])[1 + n %% 4] || ' ' || (ARRAY[5, 15, 20])[1 + n / 4] || '×',
                   45 + n, 'EUR', %(account)s, %(sheet)s, n %% 3 <> 2, 24, 'forfeit',
                   CASE WHEN n %% 2 = 0 THEN 'forfeit' ELSE 'return' END,
                   CASE WHEN n %% 4 = 1 THEN 'months' ELSE 'none' END,
                   CASE WHEN n %% 4 = 1 THEN 12 END
            FROM generate_series(0, %(count)s - 1) n RETURNING id, name, internal_rate
        )
        INSERT INTO invoicing_product (code, name, price, price_currency, package_id,
                                       credits_per_unit, vat_treatment, is_active,
                                       email_template_id)
        SELECT 'PK' || id, name, internal_rate * 5, 'EUR', id, 5, %(vat)s, true, NULL
        FROM made WHERE id %% 2 = 0""", {
        "kinds": ["Fysio", "Manuele therapie", "Dry needling", "Oefentherapie"],
        "account": ctx["ledger_account"], "sheet": ctx["sheet_item"], "count": count,
        "vat": ctx["vat_treatment"]})


def add_patients(conn: psycopg.Connection[Any], p0: int, count: int) -> None:
    conn.execute("""
        INSERT INTO patients_patient (id, first_name, last_name, date_of_birth, email, phone,
                                      street, postal_code, city, language, created_at)
        SELECT %(p0)s + i, f, l, date '1935-01-01' + (i * 7919) %% 30000,
               lower(replace(f || '.' || l, ' ', '')) || i || '@example.nl',
               '06 ' || lpad(((i * 7907) %% 100000000)::text, 8, '0'),
               'Dorpsstraat ' || (1 + i %% 250), (1000 + i %% 9000) || ' AB',
               (%(cities)s::text[])[1 + i %% 7], CASE WHEN i %% 10 = 3 THEN 'en' ELSE 'nl' END,
               now() - (i %% 1500) * interval '1 day'
        FROM generate_series(0, %(count)s - 1) i,
             LATERAL (SELECT (%(first)s::text[])[1 + i %% 24] AS f,
                             (%(last)s::text[])[1 + (i / 24) %% 28] AS l) names""",
        {"p0": p0, "count": count, "first": FIRST_NAMES, "last": LAST_NAMES, "cities": CITIES})


def plan_appointments(conn: psycopg.Connection[Any], ctx: dict[str, Any], people: list[int],
                      p0: int, patients: int, appointments: int,
                      first_monday: datetime.date, credit_share: float) -> None:
    """seed_appt: the appointments, one per practitioner slot, in a temporary table first
    (the ledger plan may still change some types)."""
    conn.execute("""
        CREATE TEMP TABLE seed_appt ON COMMIT DROP AS
        WITH g AS (
            SELECT i, i %% %(n)s AS p, i / %(n)s AS s, random() AS r1, random() AS r2,
                   random() AS r3
            FROM generate_series(0, %(count)s - 1) i
        ), h AS (
            SELECT g.*, s %% %(per_day)s AS t,
                   ((%(monday)s::date + (s / %(per_week)s) * 7 + (s %% %(per_week)s) / %(per_day)s)
                    + time '08:00' + (s %% %(per_day)s) * interval '30 minutes')
                   AT TIME ZONE 'Europe/Amsterdam' AS st
            FROM g
        ), k AS (
            SELECT h.*, CASE WHEN t = %(per_day)s - 1 THEN %(intake)s
                             WHEN r2 < %(share)s THEN %(credit)s ELSE %(plain)s END AS type_id,
                   CASE WHEN st >= now() THEN
                            CASE WHEN r3 < 0.93 THEN 'booked' ELSE 'cancelled' END
                        WHEN i = 0 THEN 'attended'  -- a one-appointment practice shows it
                        WHEN r3 < 0.82 THEN 'attended' WHEN r3 < 0.90 THEN 'cancelled'
                        WHEN r3 < 0.94 THEN 'late_cancelled' ELSE 'no_show' END AS status
            FROM h
        )
        SELECT %(a0)s + i AS id,
               %(p0)s + LEAST(%(patients)s - 1, floor(%(patients)s * r1 * r1)::int) AS patient_id,
               (%(people)s::bigint[])[1 + p] AS practitioner_id, type_id, st AS start,
               st + CASE WHEN t = %(per_day)s - 1 THEN interval '45 minutes'
                         ELSE interval '30 minutes' END AS "end",
               status, st - interval '14 days' AS created_at,
               CASE status WHEN 'cancelled' THEN st - interval '1 day'
                           WHEN 'late_cancelled' THEN st - interval '2 hours'
                           WHEN 'booked' THEN NULL
                           ELSE st + interval '30 minutes' END AS status_changed_at
        FROM k""", {
        "n": len(people), "count": appointments, "per_day": SLOTS_PER_DAY,
        "per_week": SLOTS_PER_WEEK, "monday": first_monday, "intake": ctx["intake_type"],
        "credit": ctx["credit_type"], "plain": ctx["plain_type"], "share": credit_share, "a0":
        ctx["scheduling_appointment"], "p0": p0, "patients": patients, "people": people})


def plan_ledger(conn: psycopg.Connection[Any], ctx: dict[str, Any], entries: int) -> None:
    """seed_pa (package appointments with their lot and reschedules) and seed_lot, so that
    the entries they make add up to `entries`."""
    # What each package appointment costs in entries: its reservation, its outcome, and
    # (every tenth of the patient's) a new lot's grant and activation. Patients in id order
    # take them until the budget is spent; the rest become plain treatments.
    conn.execute("""
        CREATE TEMP TABLE seed_pa ON COMMIT DROP AS
        WITH pa AS (
            SELECT id, patient_id, start, "end", status, created_at, status_changed_at,
                   row_number() OVER (PARTITION BY patient_id ORDER BY start, id) - 1 AS k
            FROM seed_appt WHERE type_id = %(credit)s
        ), costed AS (
            SELECT pa.*, SUM(1 + (status <> 'booked')::int + CASE WHEN k %% %(lot)s = 0
                                                             THEN 2 ELSE 0 END)
                       OVER (ORDER BY patient_id, k) AS spent
            FROM pa
        )
        SELECT *, row_number() OVER (ORDER BY id) - 1 AS rank, 0 AS moves FROM costed
        WHERE spent <= %(entries)s""",
        {"credit": ctx["credit_type"], "lot": LOT_CREDITS, "entries": entries})
    conn.execute("UPDATE seed_appt SET type_id = %s WHERE type_id = %s "
                 "AND id NOT IN (SELECT id FROM seed_pa)",
                 [ctx["plain_type"], ctx["credit_type"]])
    spent = int(one(conn, "SELECT COALESCE(MAX(spent), 0) FROM seed_pa"))
    chosen = int(one(conn, "SELECT COUNT(*) FROM seed_pa"))
    conn.execute("""
        CREATE TEMP TABLE seed_lot ON COMMIT DROP AS
        SELECT patient_id, k / %(lot)s AS j, MIN(created_at) - interval '1 day' AS issued_at,
               false AS pending
        FROM seed_pa GROUP BY patient_id, k / %(lot)s""", {"lot": LOT_CREDITS})
    # Every tenth patient with credits has an unpaid invoice: a pending lot (one entry).
    left = entries - spent
    conn.execute("""
        INSERT INTO seed_lot
        SELECT patient_id, MAX(j) + 1,
               date_trunc('hour', now()) - (patient_id %% 30) * interval '1 day', true
        FROM seed_lot GROUP BY patient_id
        ORDER BY patient_id LIMIT LEAST(%s, (SELECT COUNT(DISTINCT patient_id) / 10
                                            FROM seed_lot))""", [left])
    left = entries - spent - int(one(conn, "SELECT COUNT(*) FROM seed_lot WHERE pending"))
    # The rest: reschedules, a release and a reservation each, spread evenly.
    if chosen and left > 1:
        pairs = left // 2
        conn.execute("UPDATE seed_pa SET moves = %s + (rank < %s)::int",
                     [pairs // chosen, pairs % chosen])
    ctx["adjust"] = chosen > 0 and left % 2 == 1  # one odd entry: an administrator's +1
    # Ids in order of issue: invoice, its line and its lot share the rank.
    conn.execute("""
        CREATE TEMP TABLE seed_lot2 ON COMMIT DROP AS
        SELECT l.*, row_number() OVER (ORDER BY issued_at, patient_id, j) - 1 AS n,
               dense_rank() OVER (ORDER BY patient_id) - 1 AS b,
               (issued_at AT TIME ZONE 'Europe/Amsterdam')::date AS issue_date,
               issued_at + interval '2 hours' AS paid_at
        FROM seed_lot l""")


def insert_all(conn: psycopg.Connection[Any], ctx: dict[str, Any]) -> None:
    ids = {"b0": ctx["packages_creditbalance"], "l0": ctx["packages_creditlot"],
           "i0": ctx["invoicing_invoice"], "ln0": ctx["invoicing_invoiceline"],
           "pay0": ctx["invoicing_payment"], "desk": ctx["desk"]}
    conn.execute("""
        INSERT INTO scheduling_appointment (id, patient_id, practitioner_id, type_id, start,
            "end", status, note, idempotency_key, created_by_id, created_at, cancelled_by,
            cancel_reason, status_changed_at, status_changed_by_id)
        SELECT id, patient_id, practitioner_id, type_id, start, "end", status, '',
               'seed-appointment-' || id, %(desk)s, created_at,
               CASE WHEN status IN ('cancelled', 'late_cancelled') THEN 'patient' ELSE '' END,
               '', status_changed_at,
               CASE WHEN status IN ('booked', 'attended') THEN NULL ELSE %(desk)s END
        FROM seed_appt ORDER BY id""", ids)
    conn.execute(f"""
        INSERT INTO packages_creditbalance (id, patient_id, package_id, pending, available,
                                            reserved, used, expired)
        SELECT DISTINCT %(b0)s + b, patient_id, {ctx['package']}, 0, 0, 0, 0, 0
        FROM seed_lot2""", ids)  # noqa: S608 - ids of our own rows
    conn.execute("""
        INSERT INTO packages_creditlot (id, balance_id, source, credits, value_total,
            value_total_currency, ledger_account_id, balance_sheet_item_id, free_cancel_hours,
            late_cancel_outcome, no_show_outcome, validity_unit, validity_count, activated_at,
            expires_on, note, created_at, created_by_id, pending, available, reserved, used,
            expired)
        SELECT %(l0)s + n, %(b0)s + b, 'invoice', %(credits)s, %(net)s, 'EUR', %(account)s,
               %(sheet)s, %(free)s, %(late)s, %(no_show)s, %(unit)s, %(count)s,
               CASE WHEN pending THEN NULL ELSE paid_at END, NULL, '', issued_at, %(desk)s,
               0, 0, 0, 0, 0
        FROM seed_lot2 ORDER BY n""", ids | {
        "credits": LOT_CREDITS, "net": ctx["price"], "account": ctx["ledger_account"],
        "sheet": ctx["sheet_item"], "free": ctx["free_hours"], "late": ctx["late"],
        "no_show": ctx["no_show"], "unit": ctx["validity_unit"],
        "count": ctx["validity_count"]})
    insert_invoices(conn, ctx, ids)
    insert_entries(conn, ctx, ids)
    # Counters are caches of the entries (ledger.post keeps them so): set them from the sums.
    conn.execute("""
        UPDATE packages_creditlot l SET pending = s.pending, available = s.available,
               reserved = s.reserved, used = s.used, expired = s.expired
        FROM (SELECT lot_id, SUM(d_pending) AS pending, SUM(d_available) AS available,
                     SUM(d_reserved) AS reserved, SUM(d_used) AS used,
                     SUM(d_expired) AS expired
              FROM packages_creditentry WHERE lot_id >= %(l0)s GROUP BY lot_id) s
        WHERE l.id = s.lot_id""", ids)
    conn.execute("""
        UPDATE packages_creditbalance b SET pending = s.pending, available = s.available,
               reserved = s.reserved, used = s.used, expired = s.expired
        FROM (SELECT balance_id, SUM(pending) AS pending, SUM(available) AS available,
                     SUM(reserved) AS reserved, SUM(used) AS used, SUM(expired) AS expired
              FROM packages_creditlot WHERE id >= %(l0)s GROUP BY balance_id) s
        WHERE b.id = s.balance_id""", ids)


def payment_reference(year: int, sequence: int) -> str:
    """invoices.payment_reference (that module needs Django set up): ISO 11649 RF."""
    from stdnum import iso11649
    from stdnum.iso7064 import mod_97_10

    body = f"{year}{sequence:05d}"
    return str(iso11649.validate("RF" + mod_97_10.calc_check_digits(body + "RF") + body))


def insert_invoices(conn: psycopg.Connection[Any], ctx: dict[str, Any],
                    ids: dict[str, Any]) -> None:
    """One issued invoice per lot (paid, with its payment, or open for a pending lot), numbered
    per year after what the template's counters already issued."""
    counters: dict[int, int] = dict(
        conn.execute("SELECT year, last_number FROM invoicing_invoicecounter").fetchall())
    numbers: list[tuple[int, int, int, str, str]] = []
    last: dict[int, int] = {}
    for n, issue_date in conn.execute("SELECT n, issue_date FROM seed_lot2 ORDER BY n"):
        year = issue_date.year
        last[year] = int(last.get(year, counters.get(year, 0))) + 1
        numbers.append((n, year, last[year], f"{ctx['prefix']}{year}-{last[year]:05d}",
                        payment_reference(year, last[year])))
    conn.execute("CREATE TEMP TABLE seed_number (n bigint, year int, sequence int, "
                 "number text, reference text) ON COMMIT DROP")
    with conn.cursor().copy("COPY seed_number FROM STDIN") as copy:
        for row in numbers:
            copy.write_row(row)
    # Drafts first: the database refuses lines on an issued invoice (invoices.issue_invoice
    # adds the lines to the draft, then numbers and freezes it).
    conn.execute("""
        INSERT INTO invoicing_invoice (id, patient_id, status, request_key, version, created_at,
            created_by_id, year, sequence, number, issue_date, due_date, issued_at,
            issued_by_id, payment_reference, language, seller, buyer, exemption_text, total,
            total_currency, total_net, total_net_currency, total_vat, total_vat_currency, pdf,
            pdf_state, pdf_attempts, pdf_error, pdf_updated_at)
        SELECT %(i0)s + n, patient_id, 'draft', NULL, 1, issued_at - interval '5 minutes',
               %(desk)s, NULL, NULL, '', NULL, NULL, NULL, NULL, '', '', '{}', '{}', '',
               %(price)s, 'EUR', %(price)s, 'EUR', 0, 'EUR', '', 'none', 0, '', NULL
        FROM seed_lot2 ORDER BY n""", ids | {"price": ctx["price"]})
    conn.execute("""
        INSERT INTO invoicing_invoiceline (id, invoice_id, position, product_id, quantity,
            discount_percent, code, description, unit_price, unit_price_currency,
            vat_treatment, vat_rate, gross, gross_currency, net, net_currency, vat,
            vat_currency, package_id, credits_per_unit, credit_lot_id)
        SELECT %(ln0)s + n, %(i0)s + n, 1, %(product)s, 1, 0, %(code)s, %(name)s, %(price)s,
               'EUR', %(vat)s, 0, %(price)s, 'EUR', %(price)s, 'EUR', 0, 'EUR', %(package)s,
               %(credits)s, %(l0)s + n
        FROM seed_lot2 ORDER BY n""", ids | {
        "product": ctx["product"], "code": PRODUCT_CODE, "name": ctx["product_name"],
        "price": ctx["price"], "vat": ctx["vat_treatment"], "package": ctx["package"],
        "credits": LOT_CREDITS})
    conn.execute("""
        UPDATE invoicing_invoice i
        SET status = CASE WHEN l.pending THEN 'open' ELSE 'paid' END, year = s.year,
            sequence = s.sequence, number = s.number, issue_date = l.issue_date,
            due_date = l.issue_date + %(term)s, issued_at = l.issued_at,
            issued_by_id = %(desk)s, payment_reference = s.reference, language = p.language,
            seller = %(seller)s::jsonb,
            buyer = jsonb_build_object('name', trim(p.first_name || ' ' || p.last_name),
                                       'street', p.street, 'postal_code', p.postal_code,
                                       'city', p.city),
            exemption_text = %(exemption)s,
            pdf = 'invoices/' || s.year || '/seed/' || s.number || '.pdf', pdf_state = 'ready',
            pdf_attempts = 1, pdf_updated_at = l.issued_at + interval '1 minute'
        FROM seed_lot2 l JOIN seed_number s USING (n) JOIN patients_patient p
             ON p.id = l.patient_id
        WHERE i.id = %(i0)s + l.n""", ids | {
        "term": ctx["term"], "seller": ctx["seller"], "exemption": ctx["exemption"]})
    conn.execute("""
        INSERT INTO invoicing_payment (id, invoice_id, amount, amount_currency, paid_on, method,
            reference, request_key, completed_epoch, created_at, created_by_id, reversed_at,
            reversed_by_id, reversal_reason)
        SELECT %(pay0)s + n, %(i0)s + n, %(price)s, 'EUR',
               (paid_at AT TIME ZONE 'Europe/Amsterdam')::date, 'pin', '', NULL, 1, paid_at,
               %(desk)s, NULL, NULL, ''
        FROM seed_lot2 WHERE NOT pending ORDER BY n""", ids | {"price": ctx["price"]})
    conn.execute("""
        INSERT INTO invoicing_invoicecounter (year, last_number)
        SELECT year, MAX(sequence) FROM seed_number GROUP BY year
        ON CONFLICT (year) DO UPDATE SET last_number = EXCLUDED.last_number""")


def insert_entries(conn: psycopg.Connection[Any], ctx: dict[str, Any],
                   ids: dict[str, Any]) -> None:
    """Every lot's grant (and activation when paid); every package appointment's
    reservation, its reschedules and its outcome; ids in the order they happened."""
    conn.execute("""
        INSERT INTO packages_creditentry (id, lot_id, kind, credits, d_pending, d_available,
            d_reserved, d_used, d_expired, appointment_id, forfeited, expires_on, reason,
            idempotency_key, created_at, created_by_id)
        SELECT %(e0)s + row_number() OVER (ORDER BY at, key) - 1, lot, kind, credits, dp, da,
               dr, du, 0, appointment, forfeited, NULL, reason, key, at, %(desk)s
        FROM (
            SELECT %(l0)s + n AS lot, 'grant' AS kind, %(credits)s AS credits,
                   %(credits)s AS dp, 0 AS da, 0 AS dr, 0 AS du, NULL::bigint AS appointment,
                   false AS forfeited, '' AS reason, 'invoice-line:' || (%(ln0)s + n) AS key,
                   issued_at AS at
            FROM seed_lot2
            UNION ALL
            SELECT %(l0)s + n, 'activate', %(credits)s, -%(credits)s, %(credits)s, 0, 0, NULL,
                   false, '', 'invoice-paid:' || (%(i0)s + n) || ':1:' || (%(ln0)s + n),
                   paid_at
            FROM seed_lot2 WHERE NOT pending
            UNION ALL
            -- step 0 reserves; odd steps release and even ones reserve again (reschedules)
            SELECT %(l0)s + l.n, CASE WHEN m %% 2 = 0 THEN 'reserve' ELSE 'release' END, 1,
                   0, CASE WHEN m %% 2 = 0 THEN -1 ELSE 1 END,
                   CASE WHEN m %% 2 = 0 THEN 1 ELSE -1 END, 0, a.id, false,
                   CASE WHEN m > 0 THEN 'Verzet' ELSE '' END,
                   'seed-appointment-' || a.id || '/' || m, a.created_at + m * interval '1 hour'
            FROM seed_pa a JOIN seed_lot2 l ON l.patient_id = a.patient_id
                 AND l.j = a.k / %(lot)s AND NOT l.pending,
                 generate_series(0, 2 * a.moves) m
            UNION ALL
            SELECT %(l0)s + l.n, CASE WHEN a.status = 'cancelled' THEN 'release' ELSE 'use' END,
                   1, 0, (a.status = 'cancelled')::int, -1, (a.status <> 'cancelled')::int,
                   a.id, a.status IN ('late_cancelled', 'no_show'), '',
                   'seed-appointment-' || a.id || '/settle', a.status_changed_at
            FROM seed_pa a JOIN seed_lot2 l ON l.patient_id = a.patient_id
                 AND l.j = a.k / %(lot)s AND NOT l.pending
            WHERE a.status <> 'booked'
        ) e""", ids | {"e0": ctx["packages_creditentry"], "credits": LOT_CREDITS,
                       "lot": LOT_CREDITS})
    if ctx["adjust"]:
        conn.execute("""
            INSERT INTO packages_creditentry (id, lot_id, kind, credits, d_pending, d_available,
                d_reserved, d_used, d_expired, appointment_id, forfeited, expires_on, reason,
                idempotency_key, created_at, created_by_id)
            VALUES ((SELECT MAX(id) + 1 FROM packages_creditentry), %(l0)s, 'adjust', 1, 0,
                    1, 0, 0, 0, NULL, false, NULL,
                    'Overgenomen uit het vorige systeem', 'seed-adjust', now(), %(desk)s)""",
                     ids)


def advance_sequences(conn: psycopg.Connection[Any]) -> None:
    """Every identity sequence past the explicit ids, so the ORM inserts normally."""
    tables = [row[0] for row in conn.execute("""
        SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relkind = 'r' AND a.attname = 'id' AND a.attidentity <> ''
          AND c.relnamespace = 'public'::regnamespace""")]
    for table in tables:
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) "  # noqa: S608
                     f"FROM {table} HAVING MAX(id) IS NOT NULL")
