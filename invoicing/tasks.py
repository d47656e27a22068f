"""Celery tasks of invoicing: thin wrappers around invoicing.invoices.

`render_invoice_pdf` takes a primary key, is safe to run twice (the service locks the row
and checks its state) and is retried with growing pauses; each failure is counted on the
row, and the last one marks the PDF failed, so the invoice page can offer a retry. When the
PDF is stored (or given up) it releases the invoice email that waits for it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_process_init

from . import invoices

logger = logging.getLogger(__name__)

PDF_MAX_RETRIES = 4
PDF_BACKOFF_SECONDS = 5  # 5, 10, 20, 40 s: a failure is final after about 75 s


@shared_task(bind=True, base=DjangoTask, acks_late=True, max_retries=PDF_MAX_RETRIES)
def render_invoice_pdf(self: Any, invoice_pk: int) -> bool:
    try:
        rendered = invoices.store_pdf(invoice_pk)
    except Exception as exc:
        final = self.request.retries >= self.max_retries
        logger.exception("invoice %s: PDF attempt %s failed", invoice_pk,
                         self.request.retries + 1)
        invoices.pdf_attempt_failed(invoice_pk, error=f"{type(exc).__name__}: {exc}",
                                    final=final)
        if final:
            # The email's attachment tries once more and records what goes wrong.
            invoices.release_invoice_email(invoice_pk)
            return False
        raise self.retry(exc=exc, countdown=PDF_BACKOFF_SECONDS * 2 ** self.request.retries) \
            from exc
    invoices.release_invoice_email(invoice_pk)  # the PDF is there: the email may go
    return rendered


@shared_task(base=DjangoTask)
def requeue_stale_pdfs() -> int:
    """Beat: PDFs that waited too long (lost on the way to the broker) are queued again."""
    stale = invoices.stale_pdf_invoices()
    for pk in stale:
        render_invoice_pdf.delay(pk)
    return len(stale)


@worker_process_init.connect
def warm_pdf_renderer(**kwargs: Any) -> None:
    # Each worker process loads WeasyPrint and its fonts once, before the first invoice.
    from . import pdf

    try:
        pdf.warm_up()
    except Exception:  # a cold renderer is slower, not broken
        logger.exception("PDF renderer warm-up failed")
