"""The invoice PDF: WeasyPrint renders the invoice's snapshot alone, in the patient's language.

Nothing outside the snapshot is read (no product, patient or practice row), so a PDF
rendered again years later shows what was issued. The URL fetcher opens bundled static
files, the invoice's own copy of the practice logo and data: URIs, and refuses everything
else: no network, no other local file, whatever a name or a logo (an SVG) refers to.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import formats, translation
from stdnum import iban, iso11649
from weasyprint import CSS, HTML
from weasyprint.images import SVGImage
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from core.money import format_amount

from .invoice_models import Invoice
from .payment_models import CreditNote
from .vat import short_label, stored_rate_totals

logger = logging.getLogger(__name__)
STATIC_DIR = Path(settings.BASE_DIR) / "static"
STYLESHEET = STATIC_DIR / "css" / "invoice.css"


class URLRefused(ValueError):
    pass


class SafeFetcher(URLFetcher):
    """Allows data: URIs, files under the bundled static folders and the listed files."""

    def __init__(self, allowed_files: tuple[Path, ...] = ()) -> None:
        super().__init__(timeout=2, allowed_protocols=("data", "file"), allow_redirects=False)
        self.allowed_files = {p.resolve() for p in allowed_files}
        self.static_roots = [Path(d).resolve() for d in settings.STATICFILES_DIRS]
        self.refused: list[str] = []

    def allows(self, path: Path) -> bool:
        return path in self.allowed_files or any(path.is_relative_to(r) for r in self.static_roots)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            response: URLFetcherResponse = super().fetch(url, headers)
            return response
        if scheme == "file":
            parts = urlsplit(url)
            path = Path(unquote(parts.path)).resolve()
            if parts.netloc in ("", "localhost") and self.allows(path) and path.is_file():
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(path.as_uri(), body=path.read_bytes(),
                                          headers={"Content-Type": kind})
        self.refused.append(url)
        logger.warning("invoice PDF: refused to fetch %s", url[:200])
        raise URLRefused(f"refused: {url[:200]}")


class ImageCache(dict[str, Any]):
    """WeasyPrint's image cache (decoded images and their encoded data), without SVGs.
    Logo names are content-addressed, so a URL always means the same picture; an SVG is
    parsed again each time, so that its references always meet the fetcher of the render
    at hand."""

    LIMIT = 64  # entries; emptied between renders, never during one

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(value, SVGImage):
            super().__setitem__(key, value)


class Renderer(threading.local):
    """What every PDF of this thread reuses instead of making it anew: the font
    configuration, the parsed invoice stylesheet (parsed again when the file changes) and
    the decoded logo. The layout itself is done afresh for each document. Made on first
    use in each process, so a forked worker never shares its parent's font handles."""

    def __init__(self) -> None:
        self.pid = 0
        self.stylesheet_mtime = 0.0

    def fresh(self) -> None:
        self.pid = os.getpid()
        self.font_config = FontConfiguration()
        self.images = ImageCache()
        self.stylesheet: CSS | None = None

    def css(self) -> CSS:
        mtime = STYLESHEET.stat().st_mtime
        if self.stylesheet is None or mtime != self.stylesheet_mtime:
            self.stylesheet = CSS(filename=str(STYLESHEET), font_config=self.font_config,
                                  url_fetcher=SafeFetcher())
            self.stylesheet_mtime = mtime
        return self.stylesheet

    def write_pdf(self, html: str, fetcher: SafeFetcher) -> bytes:
        if self.pid != os.getpid():
            self.fresh()
        if len(self.images) > ImageCache.LIMIT:
            self.images.clear()
        data: bytes = HTML(string=html, base_url=STATIC_DIR.as_uri() + "/",
                           url_fetcher=fetcher).write_pdf(
            stylesheets=[self.css()], font_config=self.font_config, cache=self.images)
        return data


renderer = Renderer()


def logo_file(invoice: Invoice) -> Path | None:
    name = invoice.seller.get("logo") or ""
    if not name.startswith("invoices/logos/"):
        return None
    try:
        path = Path(default_storage.path(name))
    except (SuspiciousFileOperation, NotImplementedError):
        return None
    return path if path.is_file() else None


def context(invoice: Invoice) -> dict[str, Any]:
    """Everything the template shows, from the snapshot fields only. Call inside the
    invoice's language."""
    lang = invoice.language or "nl"

    def amount(value: Any) -> str:
        return format_amount(value, lang)

    lines = list(invoice.lines.order_by("position"))
    rates = [{"exempt": r.exempt, "label": short_label(r.treatment),
              "net": amount(r.net), "vat": amount(r.vat)}
             for r in stored_rate_totals(lines)]  # = invoice.rate_totals(), one query less
    logo = logo_file(invoice)
    return {
        "invoice": invoice,
        "seller": invoice.seller,
        "buyer": invoice.buyer,
        "issue_date": formats.date_format(invoice.issue_date or "", "j F Y"),
        "due_date": formats.date_format(invoice.due_date or "", "j F Y"),
        "reference": iso11649.format(invoice.payment_reference),
        "iban": iban.format(invoice.seller.get("iban", "")),
        "lines": [{
            "code": li.code, "description": li.description, "quantity": li.quantity,
            "unit_price": amount(li.unit_price),
            "discount": f"{li.discount_percent.normalize():f} %" if li.discount_percent else "",
            "vat": short_label(li.vat_treatment), "amount": amount(li.gross),
        } for li in lines],
        "has_discount": any(li.discount_percent for li in lines),
        "has_taxed": any(not r["exempt"] for r in rates),
        "rates": rates,
        "total": amount(invoice.total),
        "total_net": amount(invoice.total_net),
        "total_vat": amount(invoice.total_vat),
        "logo_url": logo.as_uri() if logo else "",
    }


def invoice_html(invoice: Invoice) -> str:
    """The invoice as the HTML document WeasyPrint lays out."""
    with translation.override(invoice.language or "nl"):
        return render_to_string("pdf/invoice.html", context(invoice))


def render(invoice: Invoice) -> bytes:
    started = time.perf_counter()
    html = invoice_html(invoice)
    logo = logo_file(invoice)
    data = renderer.write_pdf(html, SafeFetcher(allowed_files=(logo,) if logo else ()))
    logger.info("invoice %s: PDF rendered in %.0f ms (%d bytes)", invoice.number,
                (time.perf_counter() - started) * 1000, len(data))
    return data


def credit_note_context(note: CreditNote) -> dict[str, Any]:
    """The credit note's own snapshot: negated lines and the invoice it corrects."""
    lang = note.language or "nl"

    def amount(value: Any) -> str:
        return format_amount(value, lang)

    rates = [{"exempt": r.exempt, "label": short_label(r.treatment),
              "net": amount(r.net), "vat": amount(r.vat)} for r in note.rate_totals()]
    logo = logo_file(note.invoice)
    return {
        "note": note, "invoice": note.invoice, "seller": note.seller, "buyer": note.buyer,
        "issue_date": formats.date_format(note.issue_date, "j F Y"),
        "invoice_date": formats.date_format(note.invoice.issue_date or "", "j F Y"),
        "iban": iban.format(note.seller.get("iban", "")),
        "lines": [{"code": li.code, "description": li.description, "quantity": li.quantity,
                   "vat": short_label(li.vat_treatment), "amount": amount(li.gross)}
                  for li in note.lines.order_by("position")],
        "has_taxed": any(not r["exempt"] for r in rates), "rates": rates,
        "total": amount(note.total),
        "logo_url": logo.as_uri() if logo else "",
    }


def render_credit_note(note: CreditNote) -> bytes:
    with translation.override(note.language or "nl"):
        html = render_to_string("pdf/credit_note.html", credit_note_context(note))
    logo = logo_file(note.invoice)
    return renderer.write_pdf(html, SafeFetcher(allowed_files=(logo,) if logo else ()))


def warm_up() -> None:
    """Render the invoice template once with sample data (no database), so WeasyPrint's
    fonts, styles and layout are loaded before the first real invoice."""
    started = time.perf_counter()
    sample = {
        "invoice": {"language": "nl", "number": "2026-00000", "exemption_text": "Vrijgesteld"},
        "seller": {"name": "Praktijk", "street": "Laan 1", "postal_code": "1234 AB",
                   "city": "Utrecht", "kvk_number": "12345678", "payment_term_days": 14},
        "buyer": {"name": "Patiënt", "street": "Straat 1", "city": "Zeist"},
        "issue_date": "1 januari 2026", "due_date": "15 januari 2026",
        "reference": "RF00 0000 0000", "iban": "NL00 BANK 0000 0000 00",
        "lines": [{"code": "X", "description": "Fysio 10×", "quantity": 1,
                   "unit_price": "€ 1.200,00", "discount": "10 %", "vat": "21 %",
                   "amount": "€ 1.080,00"}] * 3,
        "has_discount": True, "has_taxed": True,
        "rates": [{"exempt": False, "label": "21 %", "net": "€ 892,56", "vat": "€ 187,44"}],
        "total": "€ 1.080,00", "logo_url": "",
    }
    with translation.override("nl"):
        html = render_to_string("pdf/invoice.html", sample)
    renderer.write_pdf(html, SafeFetcher())
    logger.info("PDF renderer warm in %.0f ms", (time.perf_counter() - started) * 1000)
