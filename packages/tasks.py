"""Periodic ledger work for Celery beat (thin wrappers around packages.ledger)."""

from __future__ import annotations

from celery import shared_task

from . import ledger


@shared_task(acks_late=True)
def expire_lots_nightly() -> int:
    """Rule 5: credits of lots whose expiry day has passed expire (idempotent)."""
    return ledger.expire_lots(ledger.today_local())


@shared_task(acks_late=True)
def check_ledger_nightly() -> bool:
    """Reconcile the ledger and keep the outcome; administrators see a notice on differences."""
    return ledger.record_check().ok
