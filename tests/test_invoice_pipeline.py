"""The whole pipeline with a real Celery worker process and a real Redis: issuing an invoice
queues its PDF on commit; the worker renders it from the snapshot and stores it."""

from __future__ import annotations

import io
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from pypdf import PdfReader
from stdnum import iso11649

from invoicing import invoices
from invoicing.invoices import LineData
from invoicing.models import Invoice
from invoicing.tasks import render_invoice_pdf

from . import invoice_factories as make
from .celery_worker import Worker

A4 = (595.28, 841.89)  # points


def wait_until_ready(pk: int, timeout: float = 30) -> Invoice:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        invoice = Invoice.objects.get(pk=pk)
        if invoice.pdf_state != Invoice.PdfState.PENDING:
            return invoice
        time.sleep(0.05)
    raise AssertionError("the PDF was never made")


@pytest.mark.django_db(transaction=True)
def test_issued_invoice_gets_its_pdf_from_the_worker(pdf_worker: Worker, admin: User) -> None:
    make.practice(invoice_prefix="DL")
    package = make.package()
    products = [make.product("FYS10", "Fysio 10 behandelingen", "1200.00", package=package,
                             credits=10),
                make.product("FIT", "Fysiofitness maand", "60.50", vat="21"),
                make.product("SHAKE", "Eiwitshake", "3.27", vat="9")]
    patient = make.patient("Marieke", "van den Berg")
    lines = [LineData(products[i % 3], 1 + i % 2, Decimal(5 * (i % 3))) for i in range(9)]
    lines.insert(0, LineData(products[0], 1))  # ten lines: the most one page must hold
    draft = make.draft(patient, lines, by=admin)

    started = time.perf_counter()
    invoice = invoices.issue_invoice(draft, by=admin)  # commits: the task goes to Redis
    invoice = wait_until_ready(invoice.pk)
    elapsed = time.perf_counter() - started
    assert invoice.pdf_state == Invoice.PdfState.READY, invoice.pdf_error

    reader = PdfReader(io.BytesIO(invoice.pdf.read()))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 2), round(float(box.height), 2)) == A4
    text = reader.pages[0].extract_text()
    assert invoice.number.startswith("DL") and invoice.number in text
    assert "Marieke van den Berg" in text
    assert "€ 1.200,00" in text and invoices_total(invoice) in text
    assert iso11649.format(invoice.payment_reference) in text
    assert "Vrijgesteld van btw" in text and "artikel 11, lid 1, onderdeel g" in text
    assert elapsed < 15
    print(f"\nissue → PDF stored by the worker: {elapsed * 1000:.0f} ms")
    print("".join(line for line in pdf_worker.output if "rendered in" in line or "warm" in line))

    # Idempotent: the same task again renders nothing and keeps the stored file.
    stored = invoice.pdf.name
    render_invoice_pdf.delay(invoice.pk)
    pdf_worker.wait_for("succeeded", timeout=10)
    time.sleep(0.3)
    assert [li for li in pdf_worker.output if "succeeded" in li][-1].rstrip().endswith("False")
    assert Invoice.objects.get(pk=invoice.pk).pdf.name == stored


def invoices_total(invoice: Invoice) -> str:
    from core.money import format_amount

    return format_amount(invoice.total, "nl")
