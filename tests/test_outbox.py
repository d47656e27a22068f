"""The outbox in one process: queueing in the caller's transaction, sending to a real SMTP
sink (aiosmtpd), retries, the bound on resends, the sweeper. The same code runs in a real
worker in test_outbox_pipeline.py."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from djmoney.money import Money

from communication import services
from communication.attachments import Attachment, AttachmentFile
from communication.models import EmailTemplate, Event, OutgoingEmail
from communication.services import deliver, queue_email, sweep_outbox
from core.models import Practice
from patients.models import Patient

from . import email_providers
from .mail_servers import SmtpSink, use_broker

Status = OutgoingEmail.Status
INVOICE = {
    "invoice_number": "2026-00007", "invoice_date": datetime.date(2026, 2, 2),
    "invoice_total": Money("1200.00", "EUR"), "due_date": datetime.date(2026, 2, 16),
    "iban": "NL91 ABNA 0417 1643 00", "payment_reference": "2026-00007",
    "package_name": "Fysio 10×", "credits": 10,
}


@pytest.fixture(autouse=True)
def _no_broker() -> Iterator[None]:
    """Nothing listens here: enqueueing logs and returns, as with the broker down. These
    tests call the task's body themselves."""
    restore = use_broker("redis://127.0.0.1:1/0")
    yield
    restore()


@pytest.fixture
def sink(settings: Any, tmp_path: Any) -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5
        settings.MEDIA_ROOT = tmp_path
        settings.EMAIL_OUTBOX_MAX_ATTEMPTS = 3
        settings.EMAIL_OUTBOX_BACKOFF = 30
        yield server


def patient(**fields: Any) -> Patient:
    return Patient.objects.create(
        **({"first_name": "Sanne", "last_name": "de Vries", "email": "sanne@example.org"}
           | fields)
    )


def queue(key: str = "product_invoice:7", person: Patient | None = None,
          **kwargs: Any) -> OutgoingEmail:
    person = person or patient()
    email = queue_email(
        event=Event.PRODUCT_INVOICE, to=person.email, language=person.language,
        context=INVOICE, idempotency_key=key, patient=person, **kwargs,
    )
    assert email is not None
    return email


@pytest.mark.django_db
def test_queueing_writes_the_email_and_enqueues_it_on_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    Practice.objects.filter(pk=Practice.get().pk).update(
        name="Fysio Oost", email="info@fysio-oost.example"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        email = queue(related=Practice.get())
    assert len(callbacks) == 1
    assert email.related == Practice.get()  # e.g. the invoice it belongs to
    assert email.status == Status.QUEUED and email.attempts == 0
    assert email.subject == "Factuur 2026-00007 van Fysio Oost"
    assert "Beste Sanne," in email.body_text and "€ 1.200,00" in email.body_text
    assert "16 februari 2026" in email.body_text
    assert email.message_id.startswith("<") and email.message_id.endswith("@localhost>")
    assert email.from_email == "Fysio Oost <noreply@localhost>"
    assert email.reply_to == "info@fysio-oost.example"
    assert email.to_name == "Sanne de Vries"


@pytest.mark.django_db
def test_the_same_event_never_makes_two_emails(django_capture_on_commit_callbacks: Any) -> None:
    person = patient()
    first = queue(person=person)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = queue(person=person)
    assert again.pk == first.pk
    assert callbacks == []
    assert OutgoingEmail.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_processes_racing_on_one_key_make_one_email() -> None:
    person = patient()
    barrier, results = threading.Barrier(4), []

    def race() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                results.append(queue(person=person).pk)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert OutgoingEmail.objects.count() == 1


@pytest.mark.django_db
def test_a_rolled_back_event_leaves_no_email(django_capture_on_commit_callbacks: Any) -> None:
    person = patient()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            queue(person=person)
            raise RuntimeError("the invoice could not be issued")
    assert not OutgoingEmail.objects.exists()
    assert callbacks == []


@pytest.mark.django_db
def test_switched_off_events_send_nothing_but_the_invoice_cannot_be_switched_off() -> None:
    services.ensure_default_templates()
    EmailTemplate.objects.filter(event=Event.CREDITS_LOW).update(enabled=False)
    person = patient()
    sent = queue_email(
        event=Event.CREDITS_LOW, to=person.email, language="nl", patient=person,
        context={"package_name": "Fysio 10×", "credits_available": 1},
        idempotency_key="credits_low:1",
    )
    assert sent is None and not OutgoingEmail.objects.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailTemplate.objects.filter(event=Event.PRODUCT_INVOICE).update(enabled=False)


@pytest.mark.django_db
def test_language_and_a_products_own_template_choose_the_text() -> None:
    services.ensure_default_templates()
    english = queue("product_invoice:en", person=patient(language="en", email="jo@example.org"))
    assert english.subject.startswith("Invoice 2026-00007 from")
    assert english.language == "en"
    own = EmailTemplate.objects.create(event=Event.PRODUCT_INVOICE, name="Welkom")
    services.save_template_texts(own, {"nl": ("Welkom! {{ invoice_number }}", "Fijn dat u er "
                                              "bent, {{ patient_first_name }}."),
                                       "en": ("Welcome {{ invoice_number }}", "Hi.")})

    class Product:  # the integrator gives Product an `email_template` field
        email_template = own

    chosen = queue("product_invoice:own", product=Product())
    assert chosen.subject == "Welkom! 2026-00007"
    assert chosen.body_text.startswith("Fijn dat u er bent, Sanne.")
    assert chosen.template == own


@pytest.mark.django_db
def test_context_must_match_the_allow_list() -> None:
    person = patient()
    with pytest.raises(ValueError, match="not allowed.*secret"):
        queue_email(event=Event.PRODUCT_INVOICE, to=person.email, language="nl",
                    context=INVOICE | {"secret": "x"}, idempotency_key="k1", patient=person)
    incomplete = {k: v for k, v in INVOICE.items() if k != "due_date"}
    with pytest.raises(ValueError, match="Missing.*due_date"):
        queue_email(event=Event.PRODUCT_INVOICE, to=person.email, language="nl",
                    context=incomplete, idempotency_key="k2", patient=person)


@pytest.mark.django_db
def test_sent_once_with_the_attachment_and_its_message_id(sink: SmtpSink) -> None:
    Practice.objects.filter(pk=Practice.get().pk).update(email="info@praktijk.example")
    email = queue(attachments=[
        Attachment.provided_by(email_providers.invoice_pdf, "2026-00007"),
        Attachment.data("afspraak.ics", b"BEGIN:VCALENDAR", "text/calendar"),
    ])
    assert not email_providers.pdf_path("2026-00007").exists()
    assert deliver(email.pk) == "sent"
    assert deliver(email.pk) == "sent"  # a second delivery of the task sends nothing
    assert sink.handler.count() == 1
    message = sink.handler.messages[0]
    assert message["Message-ID"] == email.message_id
    assert message["Subject"] == email.subject
    assert message["Reply-To"] == "info@praktijk.example"
    assert message["To"] == "Sanne de Vries <sanne@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == email.body_text
    assert "<p>Beste Sanne,</p>" in message.get_body(("html",)).get_content()
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(files) == {"factuur-2026-00007.pdf", "afspraak.ics"}
    assert files["factuur-2026-00007.pdf"].startswith(b"%PDF")
    assert email_providers.pdf_path("2026-00007").exists()  # rendered on first use
    email.refresh_from_db()
    assert email.status == Status.SENT and email.attempts == 1 and email.sent_at
    assert [a.filename for a in email.attachments.all()] == ["factuur-2026-00007.pdf",
                                                              "afspraak.ics"]


@pytest.mark.django_db
def test_a_refusing_server_is_retried_with_backoff_then_the_email_fails(
    sink: SmtpSink, django_capture_on_commit_callbacks: Any,
) -> None:
    sink.handler.refuse_with = "451 4.3.0 Mailbox temporarily unavailable"
    email = queue()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=False) as retries:
            assert deliver(email.pk) == "retry"
        assert len(retries) == 1  # the retry is enqueued on commit, with its countdown
        email.refresh_from_db()
        assert email.status == Status.QUEUED and "451" in email.last_error
        assert email.next_attempt_at == start + datetime.timedelta(seconds=30)
        assert deliver(email.pk) == "not due"
        clock.shift(30)
        assert deliver(email.pk) == "retry"
        email.refresh_from_db()
        assert email.next_attempt_at == start + datetime.timedelta(seconds=30 + 60)
        clock.shift(60)
        assert deliver(email.pk) == "failed"
    email.refresh_from_db()
    assert email.status == Status.FAILED and email.attempts == 3
    assert sink.handler.refused == 3 and sink.handler.count() == 0


@pytest.mark.django_db
def test_an_address_that_does_not_exist_fails_at_once(sink: SmtpSink) -> None:
    sink.handler.refuse_with = "550 5.1.1 No such user"
    email = queue()
    assert deliver(email.pk) == "failed"
    email.refresh_from_db()
    assert email.attempts == 1 and "550 5.1.1 No such user" in email.last_error


@pytest.mark.django_db
def test_a_dead_worker_allows_one_resend_with_the_same_message_id(sink: SmtpSink) -> None:
    """The state a worker leaves when it dies mid-send, here made by hand; the real
    SIGKILL is in test_outbox_pipeline.py."""
    first, second = queue("product_invoice:1"), queue("product_invoice:2")
    start = timezone.now()
    OutgoingEmail.objects.filter(pk__in=[first.pk, second.pk]).update(
        status=Status.SENDING, sending_since=start, attempts=1
    )
    OutgoingEmail.objects.filter(pk=second.pk).update(unconfirmed_attempts=1)  # died before
    with time_machine.travel(start + datetime.timedelta(seconds=10), tick=False):
        assert deliver(first.pk) == "busy"  # not yet: its worker may still be alive
        assert sweep_outbox() == []
    with time_machine.travel(start + datetime.timedelta(seconds=301), tick=False):
        assert sorted(sweep_outbox()) == sorted([first.pk, second.pk])
        assert deliver(first.pk) == "sent"
        with translation.override("en"):
            assert deliver(second.pk) == "failed"  # a second interrupted attempt: no more
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.attempts == 2 and first.unconfirmed_attempts == 1
    assert [m["Message-ID"] for m in sink.handler.messages] == [first.message_id]
    assert second.status == Status.FAILED and "may have received" in second.last_error


@pytest.mark.django_db
def test_a_connection_lost_after_data_counts_as_unconfirmed(sink: SmtpSink) -> None:
    async def drop(server: Any, session: Any, envelope: Any) -> str:
        sink.handler.messages.append(envelope)  # the server has it...
        server.transport.close()  # ...but the client never hears so
        return "250 OK"

    sink.handler.handle_DATA = drop  # type: ignore[method-assign]
    email = queue()
    assert deliver(email.pk) == "retry"
    email.refresh_from_db()
    assert email.unconfirmed_attempts == 1 and email.status == Status.QUEUED
    email.next_attempt_at = timezone.now()
    email.save()
    assert deliver(email.pk) == "failed"  # the bound: at most one resend after that
    assert len(sink.handler.messages) == 2


@pytest.mark.django_db
def test_attachment_failures_are_retried_and_unregistered_providers_refused(
    sink: SmtpSink,
) -> None:
    broken = queue("k:broken",
                   attachments=[Attachment.provided_by(email_providers.broken, "2026-1")])
    assert deliver(broken.pk) == "retry"
    broken.refresh_from_db()
    assert "no PDF for 2026-1" in broken.last_error
    with pytest.raises(ValueError, match="not decorated"):
        Attachment.provided_by(email_providers.not_registered, "1")
    sneaky = queue("k:sneaky", attachments=[Attachment(provider="os.system", object_id="ls")])
    assert deliver(sneaky.pk) == "retry"
    sneaky.refresh_from_db()
    assert "not a registered attachment provider" in sneaky.last_error
    assert sink.handler.count() == 0


@pytest.mark.django_db
def test_the_sweeper_takes_only_what_nobody_picked_up() -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        fresh, old, sending, sent = (queue(f"k:{n}") for n in range(4))
    OutgoingEmail.objects.filter(pk=old.pk).update(
        next_attempt_at=start - datetime.timedelta(seconds=121))
    OutgoingEmail.objects.filter(pk=sending.pk).update(status=Status.SENDING, sending_since=start)
    OutgoingEmail.objects.filter(pk=sent.pk).update(status=Status.SENT)
    with time_machine.travel(start + datetime.timedelta(seconds=60), tick=False):
        began = time.monotonic()
        assert sweep_outbox() == [old.pk]
        assert time.monotonic() - began < 5  # a dead broker does not hang it


@pytest.mark.django_db
def test_without_an_address_the_email_waits_failed_until_one_is_added(
    django_capture_on_commit_callbacks: Any, admin: Any,
) -> None:
    person = patient(email="")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with translation.override("en"):
            email = queue(person=person)
    assert callbacks == []
    assert email.status == Status.FAILED and "No email address" in email.last_error
    person.email = "later@example.org"
    person.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = services.send_again(email, by=admin)
    assert again.status == Status.QUEUED and again.to_email == "later@example.org"
    assert len(callbacks) == 1
    from core.audit import history

    assert history(again).first().changes["to_email"] == ["", "later@example.org"]


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_send_one_email(sink: SmtpSink) -> None:
    email = queue()
    sink.handler.hold_reply = 0.3
    barrier, outcomes = threading.Barrier(3), []

    def run() -> None:
        from django.db import connection

        try:
            barrier.wait()
            outcomes.append(deliver(email.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["busy", "busy", "sent"]
    assert sink.handler.count() == 1


def test_an_enqueue_with_the_broker_down_returns_quickly() -> None:
    began = time.monotonic()
    assert services.enqueue(123) is False
    assert time.monotonic() - began < 5


def test_the_sweeper_runs_periodically() -> None:
    from django.conf import settings

    from communication.tasks import sweep_outbox as task

    entry = settings.CELERY_BEAT_SCHEDULE["email-outbox-sweeper"]
    assert entry["task"] == task.name
    assert float(entry["schedule"]) <= 60  # type: ignore[arg-type]


@pytest.mark.django_db
def test_ics_attachment_is_a_valid_calendar_entry(sink: SmtpSink) -> None:
    from communication.ics import appointment_ics

    start = datetime.datetime(2026, 3, 3, 14, 30, tzinfo=datetime.UTC)
    ics = appointment_ics(uid="appointment-7@flux", start=start,
                          end=start + datetime.timedelta(minutes=30),
                          summary="Fysiotherapie, bij Tessa; 30 min", location="Lindelaan 12")
    lines = ics.decode().split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and "END:VCALENDAR" in lines
    assert "DTSTART:20260303T143000Z" in lines
    assert "SUMMARY:Fysiotherapie\\, bij Tessa\\; 30 min" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    assert isinstance(AttachmentFile("a.ics", ics, "text/calendar"), AttachmentFile)
