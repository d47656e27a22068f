"""The booking floors: a booking's bare work — lock the balance row, check it, take one
credit, insert the appointment and a ledger entry with a unique key, in one transaction —
on small tables of their own, with nothing of ours in between. Never tune these."""

from __future__ import annotations

from typing import Any

SCHEMA = """
DROP TABLE IF EXISTS floor_entry, floor_appointment, floor_balance;
CREATE TABLE floor_balance (
    id bigserial PRIMARY KEY,
    patient_id bigint NOT NULL UNIQUE,
    available integer NOT NULL CHECK (available >= 0)
);
CREATE TABLE floor_appointment (
    id bigserial PRIMARY KEY,
    patient_id bigint NOT NULL,
    start timestamptz NOT NULL
);
CREATE TABLE floor_entry (
    id bigserial PRIMARY KEY,
    balance_id bigint NOT NULL,
    appointment_id bigint NOT NULL,
    delta integer NOT NULL,
    key text NOT NULL UNIQUE
);
"""

LOCK = "SELECT id, available FROM floor_balance WHERE patient_id = %s FOR UPDATE"
TAKE = "UPDATE floor_balance SET available = available - 1 WHERE id = %s"
APPOINTMENT = "INSERT INTO floor_appointment (patient_id, start) VALUES (%s, %s) RETURNING id"
ENTRY = "INSERT INTO floor_entry (balance_id, appointment_id, delta, key) VALUES (%s, %s, -1, %s)"


def book(cursor: Any, patient_id: int, start: str, key: str) -> bool:
    """One booking inside the caller's transaction; False when no credit is left. The
    cursor is psycopg's or Django's: both take %s parameters."""
    cursor.execute(LOCK, [patient_id])
    row = cursor.fetchone()
    if row is None or row[1] < 1:
        return False
    cursor.execute(TAKE, [row[0]])
    cursor.execute(APPOINTMENT, [patient_id, start])
    appointment_id = cursor.fetchone()[0]
    cursor.execute(ENTRY, [row[0], appointment_id, key])
    return True


def load(conn: Any, credits_by_patient: dict[int, int]) -> None:
    """Fresh floor tables holding these balances (psycopg connection)."""
    with conn.transaction():
        conn.execute(SCHEMA)
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO floor_balance (patient_id, available) VALUES (%s, %s)",
                list(credits_by_patient.items()))
