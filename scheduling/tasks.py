"""Celery tasks: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def mark_unmarked_attended() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): appointments nobody marked become attended at the end
    of the next day. Idempotent, so a retried or doubled run changes nothing."""
    return services.mark_unmarked_attended()
