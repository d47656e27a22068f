"""A test attachment provider, standing in for invoicing.pdf.attachment_for_invoice: it
renders the PDF on first use and serves the stored file after that."""

from __future__ import annotations

import io
from pathlib import Path

from django.conf import settings
from pypdf import PdfWriter

from communication.attachments import AttachmentFile, attachment_provider


def pdf_path(number: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "test-invoices" / f"{number}.pdf"


@attachment_provider
def invoice_pdf(number: str) -> AttachmentFile:
    path = pdf_path(number)
    if not path.exists():
        writer = PdfWriter()
        writer.add_blank_page(595, 842)
        writer.add_metadata({"/Title": f"Factuur {number}"})
        buffer = io.BytesIO()
        writer.write(buffer)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
    return AttachmentFile(f"factuur-{number}.pdf", path.read_bytes(), "application/pdf")


@attachment_provider
def broken(number: str) -> AttachmentFile:
    raise RuntimeError(f"no PDF for {number}")


def not_registered(number: str) -> AttachmentFile:
    return AttachmentFile("x.txt", b"x", "text/plain")
