"""The invoice PDF in-process: the fetcher lets nothing out and nothing local in, the real
logo still appears; the patient's language; a render that keeps failing shows a retry."""

from __future__ import annotations

import datetime
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from flux.celery import app as celery_app
from invoicing import invoices, pdf
from invoicing.models import Invoice
from invoicing.tasks import render_invoice_pdf

from . import invoice_factories as make

pytestmark = pytest.mark.django_db
PASSWD = Path("/etc/passwd").read_text().splitlines()[0]  # e.g. root:x:0:0:root:/root:/bin/bash
LOGO_RGB = (200, 30, 90)


class Spy:
    """A local web server that records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        spy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                spy.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.end_headers()
                self.wfile.write(b"body { background: red; }")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def spy() -> Iterator[Spy]:
    server = Spy()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def png_logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 30), LOGO_RGB).save(out, "PNG")
    return out.getvalue()


def hostile(spy: Spy) -> dict[str, str]:
    return {
        "img": f'<img src="{spy.url}/name.png">',
        "css": f'<link rel="stylesheet" href="{spy.url}/name.css">',
        "file": '<img src="file:///etc/passwd"><link rel="stylesheet" href="file:///etc/passwd">',
        "import": "<style>@import url(file:///etc/passwd); @import url(" + spy.url + ");</style>",
    }


def issue_hostile_invoice(admin: User, spy: Spy, logo_name: str) -> Invoice:
    bad = hostile(spy)
    practice = make.practice(name=f"Praktijk {bad['img']}", street=f"Laan 1 {bad['file']}")
    practice.logo.name = logo_name
    practice.save()
    patient = make.patient(bad["file"], f"Jansen {bad['css']}", city=bad["import"])
    product = make.product("HACK", f"Fysio {bad['img']}", "100.00")
    return invoices.issue_invoice(make.draft(patient, [(product, 1)], by=admin), by=admin)


def rendered(invoice: Invoice) -> tuple[bytes, str, PdfReader]:
    assert invoices.store_pdf(invoice.pk)
    invoice.refresh_from_db()
    data = invoice.pdf.read()
    reader = PdfReader(io.BytesIO(data))
    return data, "\n".join(page.extract_text() for page in reader.pages), reader


def test_names_and_a_png_logo_reach_nothing_but_the_logo_appears(admin, spy, media) -> None:
    logo = default_storage.save("practice/logo.png", ContentFile(png_logo()))
    invoice = issue_hostile_invoice(admin, spy, logo)
    data, text, reader = rendered(invoice)
    assert spy.requests == []  # nothing reached the server
    assert PASSWD not in text and PASSWD.encode() not in data  # no local file came in
    assert '<img src="' in text  # the names are printed as the text they are
    (image,) = reader.pages[0].images  # the real logo, and only it
    assert image.image.size == (60, 30)
    assert image.image.convert("RGB").getpixel((30, 15)) == LOGO_RGB
    # The invoice keeps its own copy: a new logo later does not change its PDF.
    assert invoice.seller["logo"].startswith("invoices/logos/")


def test_an_svg_logo_that_points_elsewhere_is_drawn_without_its_references(admin, spy,
                                                                            media) -> None:
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
         width="120" height="40" viewBox="0 0 120 40">
      <style>@import url("{spy.url}/svg.css"); @import url("file:///etc/passwd");</style>
      <rect width="120" height="40" fill="rgb(200,30,90)"/>
      <image href="file:///etc/passwd" width="10" height="10"/>
      <image xlink:href="{spy.url}/svg.png" width="10" height="10"/>
      <use href="file:///etc/passwd#x"/>
      <text x="5" y="25">&#x3C;img&#x3E;</text>
    </svg>""".encode()
    logo = default_storage.save("practice/logo.svg", ContentFile(svg))
    data, text, reader = rendered(issue_hostile_invoice(admin, spy, logo))
    assert spy.requests == []
    assert PASSWD not in text and PASSWD.encode() not in data
    content = reader.pages[0].get_contents().get_data()  # type: ignore[union-attr]
    assert b"0.784314 0.117647 0.352941 rg" in content  # the logo's own colour is drawn


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/passwd"])
def test_a_logo_name_pointing_outside_media_gives_an_invoice_without_logo(admin, spy, media,
                                                                          name) -> None:
    invoice = issue_hostile_invoice(admin, spy, name)
    assert invoice.seller["logo"] == ""
    data, text, reader = rendered(invoice)
    assert PASSWD not in text and PASSWD.encode() not in data
    assert len(reader.pages[0].images) == 0 and spy.requests == []


def test_the_fetcher_allows_static_files_and_data_uris_only(spy, tmp_path) -> None:
    allowed = tmp_path / "logo.png"
    allowed.write_bytes(png_logo())
    fetcher = pdf.SafeFetcher(allowed_files=(allowed,))
    css = (pdf.STATIC_DIR / "css" / "invoice.css").as_uri()
    assert b"@page" in fetcher.fetch(css).read()
    assert fetcher.fetch(allowed.as_uri()).read() == png_logo()
    assert fetcher.fetch("data:text/plain;base64,Zmx1eA==").read() == b"flux"
    for url in ("file:///etc/passwd", f"{pdf.STATIC_DIR.as_uri()}/../../../../etc/passwd",
                "file://127.0.0.1/etc/passwd", f"{spy.url}/", "https://example.org/x.css",
                (tmp_path / "other.png").as_uri(), "ftp://127.0.0.1/x"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert spy.requests == []
    assert len(fetcher.refused) == 7


@pytest.mark.parametrize(("language", "words"), [
    ("nl", ["Factuur", "Vrijgesteld van btw", "artikel 11, lid 1, onderdeel g",
            "Betalingskenmerk", "€ 1.200,00"]),
    ("en", ["Invoice", "Exempt from VAT", "article 11(1)(g)", "Payment reference",
            "€1,200.00"]),
])
def test_the_pdf_speaks_the_patients_language(admin, media, language, words) -> None:
    make.practice()
    product = make.product()
    patient = make.patient(language=language)
    invoice = invoices.issue_invoice(make.draft(patient, [(product, 1)], by=admin), by=admin)
    _data, text, _reader = rendered(invoice)
    for word in words:
        assert word in text, word


@pytest.fixture
def eager_celery() -> Iterator[None]:
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_a_render_that_keeps_failing_is_shown_failed_with_a_retry(
        admin, receptionist_client: Client, settings, tmp_path, eager_celery,
        django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    make.practice()
    invoice = invoices.issue_invoice(make.draft(make.patient(), [(make.product(), 1)],
                                                by=admin), by=admin)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = blocked  # a real failure: the PDF cannot be stored
    render_invoice_pdf.apply(args=[invoice.pk])  # runs, and retries, in this process
    invoice.refresh_from_db()
    assert invoice.pdf_state == "failed" and invoice.pdf_attempts == 5
    page = receptionist_client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert f'action="/invoices/{invoice.pk}/pdf/retry/"' in page  # the retry button

    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        response = receptionist_client.post(f"/invoices/{invoice.pk}/pdf/retry/")
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.pdf_state == "ready"
    served = receptionist_client.get(f"/invoices/{invoice.pk}/pdf/")
    assert served["Content-Type"] == "application/pdf"
    assert b"".join(served.streaming_content).startswith(b"%PDF")


def test_a_pdf_lost_on_its_way_is_queued_again_by_the_sweep(admin, media,
                                                             eager_celery) -> None:
    from invoicing.tasks import requeue_stale_pdfs

    make.practice()
    invoice = invoices.issue_invoice(make.draft(make.patient(), [(make.product(), 1)],
                                                by=admin), by=admin)
    assert requeue_stale_pdfs.apply().result == 0  # just issued: its task is on its way
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=11)):
        assert requeue_stale_pdfs.apply().result == 1
    invoice.refresh_from_db()
    assert invoice.pdf_state == "ready"


def test_the_invoice_email_waits_for_its_pdf_and_goes_when_the_pdf_task_stored_it(
        admin, media, eager_celery, django_capture_on_commit_callbacks,
        mailoutbox) -> None:  # type: ignore[no-untyped-def]
    from communication.models import OutgoingEmail

    make.practice()
    patient = make.patient(email="piet@example.org")
    draft = make.draft(patient, [(make.product(), 1)], by=admin)
    with django_capture_on_commit_callbacks() as callbacks:
        invoice = invoices.issue_invoice(draft, by=admin)
    assert len(callbacks) == 1  # the PDF task only: the email is held until the PDF is there
    email = OutgoingEmail.objects.get(idempotency_key=f"product_invoice:{invoice.pk}")
    assert email.status == OutgoingEmail.Status.QUEUED and mailoutbox == []

    render_invoice_pdf.apply(args=[invoice.pk])  # stores the PDF, then releases the email
    email.refresh_from_db()
    assert email.status == OutgoingEmail.Status.SENT
    (message,) = mailoutbox
    assert [a[0] for a in message.attachments] == [f"{invoice.number}.pdf"]
    render_invoice_pdf.apply(args=[invoice.pk])  # again: nothing rendered, nothing sent
    assert len(mailoutbox) == 1
