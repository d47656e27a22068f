"""Thin Celery wrappers around communication.services (primary keys in, idempotent)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import services

# Celery kills a send that lives longer than this, so a row still "sending" after
# EMAIL_OUTBOX_SENDING_TIMEOUT has no live worker behind it.
TIME_LIMIT = max(1, int(settings.EMAIL_OUTBOX_SEND_TIME_LIMIT))  # rounded down: still below


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=TIME_LIMIT,
             ignore_result=True)
def send_email(pk: int) -> str:
    return services.deliver(pk)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    return len(services.sweep_outbox())


@shared_task(ignore_result=True)
def queue_due_reminders() -> int:
    from .scheduled import queue_due_reminders as queue

    return queue()


@shared_task(ignore_result=True)
def queue_expiry_warnings() -> int:
    from .scheduled import queue_expiry_warnings as queue

    return queue()
