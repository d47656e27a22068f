"""The only write path of communication: templates, the outbox and sending.

Sending (DOMAIN.md rule 8). `queue_email` writes the row in the caller's transaction and
enqueues the send task on commit. `deliver` claims the row ('sending', committed), talks to
the mail server, then records the outcome. A worker that dies in between leaves the row in
'sending'; the sweeper re-enqueues it after EMAIL_OUTBOX_SENDING_TIMEOUT (longer than a
send may live: Celery kills a task at EMAIL_OUTBOX_SEND_TIME_LIMIT). Because the server
may have accepted that message, such an *unconfirmed* attempt is followed by at most one
more, with the same Message-ID; a second unconfirmed attempt marks the email failed.
"""

from __future__ import annotations

import datetime
import logging
import smtplib
import uuid
from collections.abc import Iterable, Mapping
from email.utils import formataddr, make_msgid, parseaddr
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import audit
from core.models import AuditEntry, Practice

from . import attachments as attachment_files
from . import placeholders, rendering
from .attachments import Attachment
from .defaults import DEFAULTS, default_text
from .models import LANGUAGES, EmailTemplate, EmailTemplateText, Event, OutgoingEmail

logger = logging.getLogger(__name__)
Status = OutgoingEmail.Status


def conf(name: str) -> float:
    """EMAIL_OUTBOX_<name> from settings (see flux/settings.py and .env.example)."""
    return float(getattr(settings, f"EMAIL_OUTBOX_{name}"))


# ------------------------------------------------------------------------- templates

def ensure_default_templates() -> int:
    """Create every standard template that is missing, with its shipped text; never
    changes an existing one. Idempotent and safe to run concurrently."""
    wanted = len(DEFAULTS) * len(LANGUAGES)
    if EmailTemplateText.objects.filter(template__name="").count() >= wanted:
        return 0
    created = 0
    for event in Event:
        with transaction.atomic():
            template, _made = EmailTemplate.objects.get_or_create(event=event, name="")
            for language in LANGUAGES:
                subject, body = default_text(event, language)
                _text, made = EmailTemplateText.objects.get_or_create(
                    template=template, language=language,
                    defaults={"subject": subject, "body": body},
                )
                created += made
    return created


def template_for(event: str, language: str, product: Any = None) -> EmailTemplateText | None:
    """The text to send for an event in a language, or None when the event is switched off.
    A product's own invoice template (`product.email_template`) wins for product invoices."""
    template: EmailTemplate | None = None
    if product is not None and event == Event.PRODUCT_INVOICE:
        template = getattr(product, "email_template", None)
    if template is None:
        standard = EmailTemplate.objects.prefetch_related("texts").filter(event=event, name="")
        template = standard.first()
        if template is None:  # migrate creates them; this is the safety net, not the path
            ensure_default_templates()
            template = standard.get()
    if not template.enabled:
        return None
    return template.text(language) or template.text(settings.LANGUAGE_CODE)


@transaction.atomic
def reset_template_text(template: EmailTemplate, language: str, *, by: Any) -> EmailTemplateText:
    """Put the shipped text back (named invoice templates: the standard invoice text)."""
    locked = EmailTemplate.objects.select_for_update().get(pk=template.pk)
    subject, body = default_text(locked.event, language)
    text, _made = EmailTemplateText.objects.get_or_create(
        template=locked, language=language, defaults={"subject": subject, "body": body}
    )
    changes = {}
    if text.subject != subject:
        changes[f"subject_{language}"] = [text.subject, subject]
    if text.body != body:
        changes[f"body_{language}"] = [text.body, body]
    if changes:
        text.subject, text.body = subject, body
        text.save(update_fields=["subject", "body"])
        audit.record(locked, AuditEntry.Action.UPDATE, changes, by=by)
    return text


def save_template_texts(template: EmailTemplate, texts: Mapping[str, tuple[str, str]]) -> None:
    """Called from the template form's save (inside core.services.save_form)."""
    for language, (subject, body) in texts.items():
        EmailTemplateText.objects.update_or_create(
            template=template, language=language, defaults={"subject": subject, "body": body}
        )


# ---------------------------------------------------------------------------- queueing

def _practice_values(practice: Practice) -> dict[str, Any]:
    place = " ".join(p for p in (practice.postal_code, practice.city) if p)
    return {
        "practice_name": practice.name,
        "practice_address": ", ".join(p for p in (practice.street, place) if p),
        "practice_phone": practice.phone,
        "practice_email": practice.email,
    }


def build_values(
    event: str, language: str, context: Mapping[str, Any], patient: Any = None,
    practice: Practice | None = None,
) -> dict[str, str]:
    """All placeholder values of an email, as text in the recipient's language. The caller
    supplies the event's own values; patient and practice ones are filled in here."""
    allowed = placeholders.names_for(event)
    unknown = sorted(set(context) - allowed)
    if unknown:
        raise ValueError(f"Placeholders not allowed for {event}: {', '.join(unknown)}")
    values: dict[str, Any] = dict(_practice_values(practice or Practice.get()))
    if patient is not None:
        values |= {"patient_first_name": patient.first_name,
                   "patient_last_name": patient.last_name}
    values |= dict(context)
    missing = sorted(allowed - set(values))
    if missing:
        raise ValueError(f"Missing placeholder values for {event}: {', '.join(missing)}")
    return {name: placeholders.format_value(value, language) for name, value in values.items()}


def render_email(
    subject_template: str, body_template: str, values: Mapping[str, str], language: str,
    practice: Practice | None = None,
) -> tuple[str, str, str]:
    """(subject, plain text, HTML) in the practice's layout."""
    practice = practice or Practice.get()
    subject = rendering.render_subject(subject_template, values)
    with translation.override(language):
        context = {"subject": subject, "practice": practice, "language": language,
                   "body": rendering.render_html(body_template, values)}
        html = render_to_string("communication/email/layout.html", context)
        footer_lines = render_to_string("communication/email/footer.txt", context).splitlines()
    footer = "\n".join(line.strip() for line in footer_lines if line.strip())
    text = rendering.render_text(body_template, values)
    return subject, f"{text}\n-- \n{footer}\n", html


def _from_address(practice: Practice) -> tuple[str, str]:
    """The practice's name on the installation's sending address; replies go to the
    practice's own address."""
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((practice.name, address)), practice.email


def _message_id(from_email: str) -> str:
    domain = parseaddr(from_email)[1].rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def _recipient_problem(to: str) -> str:
    if not to:
        return _("No email address: add one to the patient and choose Send again.")
    try:
        validate_email(to)
    except ValidationError:
        return _("Not a valid email address: %(address)s") % {"address": to}
    return ""


@transaction.atomic
def queue_email(
    *, event: str, to: str, language: str, context: Mapping[str, Any], idempotency_key: str,
    attachments: Iterable[Attachment] = (), patient: Any = None, related: Any = None,
    product: Any = None, to_name: str = "", by: Any = None, hold: bool = False,
) -> OutgoingEmail | None:
    """Write the email of one event to the outbox, in the caller's transaction; the send
    task is enqueued when that transaction commits. The same key returns the email already
    written. None when the event's template is switched off.

    `hold`: the caller enqueues the email with `release(key)` once what it attaches is
    ready (so no worker waits for it); the outbox sweeper sends it after the grace period
    should that never happen."""
    existing = OutgoingEmail.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if language not in LANGUAGES:
        language = settings.LANGUAGE_CODE
    text = template_for(event, language, product)
    if text is None:
        return None
    practice = Practice.get()  # once per email: values, layout and sender all show it
    values = build_values(event, language, context, patient, practice)
    if patient is not None and not to_name:
        to_name = str(patient)
    return _write(
        event=event, to=to, to_name=to_name, language=language, key=idempotency_key,
        template=text.template, subject=text.subject, body=text.body, values=values,
        attachments=attachments, patient=patient, related=related, by=by, practice=practice,
        hold=hold,
    )


def release(idempotency_key: str) -> bool:
    """Enqueue a held email (see `queue_email`) that still waits in the outbox."""
    pk = OutgoingEmail.objects.filter(idempotency_key=idempotency_key,
                                      status=Status.QUEUED).values_list("pk", flat=True).first()
    return pk is not None and enqueue(pk)


def _write(
    *, event: str, to: str, to_name: str, language: str, key: str, template: EmailTemplate | None,
    subject: str, body: str, values: Mapping[str, str], attachments: Iterable[Attachment],
    patient: Any, related: Any, by: Any, is_test: bool = False, practice: Practice | None = None,
    hold: bool = False,
) -> OutgoingEmail:
    practice = practice or Practice.get()
    subject, body_text, body_html = render_email(subject, body, values, language, practice)
    from_email, reply_to = _from_address(practice)
    problem = _recipient_problem(to)
    now = timezone.now()
    email = OutgoingEmail(
        idempotency_key=key, event=event, is_test=is_test, template=template,
        language=language, to_email=to, to_name=" ".join(to_name.split()),
        from_email=from_email, reply_to=reply_to, subject=subject, body_text=body_text,
        body_html=body_html, message_id=_message_id(from_email), next_attempt_at=now,
        status=Status.FAILED if problem else Status.QUEUED, last_error=problem,
        patient=patient, created_by=by if getattr(by, "pk", None) else None,
    )
    if related is not None:
        email.related_type = ContentType.objects.get_for_model(related)
        email.related_id = str(related.pk)
    try:
        with transaction.atomic():
            email.save()
    except IntegrityError:
        # The same event raced us to it: theirs is the email.
        return OutgoingEmail.objects.get(idempotency_key=key)
    for position, spec in enumerate(attachments):
        email.attachments.create(
            position=position, provider=spec.provider, object_id=spec.object_id,
            storage_name=spec.storage_name, content=spec.content, filename=spec.filename,
            mimetype=spec.mimetype,
        )
    if not problem and not hold:
        transaction.on_commit(partial(enqueue, email.pk))
    return email


def enqueue(pk: int, countdown: float | None = None) -> bool:
    """Hand the email to a worker. Never raises: with the broker down the row waits in
    the outbox and the sweeper enqueues it later."""
    from .tasks import send_email

    try:
        send_email.apply_async(
            (pk,), countdown=countdown or 0, retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                          "interval_max": 0.2},
        )
    except Exception:  # the broker's many errors; the sweeper is the fallback
        logger.warning("Could not enqueue email %s; the outbox sweeper will.", pk, exc_info=True)
        return False
    return True


def sample_values(event: str, language: str) -> dict[str, str]:
    practice = Practice.get()
    real = {k: v for k, v in _practice_values(practice).items() if v}
    if practice.iban:
        real["iban"] = practice.iban
    return placeholders.sample_context(event, language, **real)


@transaction.atomic
def send_test_email(
    template: EmailTemplate, language: str, subject: str, body: str, *, by: Any
) -> OutgoingEmail:
    """The given (possibly unsaved) text with sample data, to the administrator."""
    to_name = by.get_full_name() or by.username
    return _write(
        event=template.event, to=by.email, to_name=to_name, language=language,
        key=f"test:{uuid.uuid4()}", template=template, subject=subject, body=body,
        values=sample_values(template.event, language), attachments=(), patient=None,
        related=None, by=by, is_test=True,
    )


# ----------------------------------------------------------------------------- sending

class _Outcome(Exception):
    def __init__(self, error: str, *, certain: bool, permanent: bool = False):
        super().__init__(error)
        self.error, self.certain, self.permanent = error, certain, permanent


def _claim(pk: int) -> OutgoingEmail | str:
    now = timezone.now()
    email = OutgoingEmail.objects.select_for_update().filter(pk=pk).first()
    if email is None:
        return "missing"
    if email.status in (Status.SENT, Status.FAILED):
        return email.status
    if email.status == Status.SENDING:
        stale_before = now - datetime.timedelta(seconds=conf("SENDING_TIMEOUT"))
        if email.sending_since and email.sending_since > stale_before:
            return "busy"
        # The worker of the last attempt died while sending: perhaps it went out.
        email.unconfirmed_attempts += 1
        if email.unconfirmed_attempts > 1:
            email.status = Status.FAILED
            email.last_error = _(
                "Sending was interrupted twice; the patient may have received this email. "
                "Check with the patient before you send it again."
            )
            email.save(update_fields=["status", "last_error", "unconfirmed_attempts"])
            return "failed"
    elif email.next_attempt_at > now + datetime.timedelta(seconds=1):
        return "not due"
    email.status = Status.SENDING
    email.sending_since = now
    email.attempts += 1
    email.save(update_fields=["status", "sending_since", "attempts", "unconfirmed_attempts"])
    return email


def build_message(email: OutgoingEmail) -> tuple[EmailMultiAlternatives, list[tuple[int, Any]]]:
    to = formataddr((email.to_name, email.to_email)) if email.to_name else email.to_email
    message = EmailMultiAlternatives(
        subject=email.subject, body=email.body_text, from_email=email.from_email, to=[to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers={"Message-ID": email.message_id, "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(email.body_html, "text/html")
    made = []
    for row in email.attachments.all():
        try:
            file = attachment_files.produce(row)
        except Exception as exc:
            raise _Outcome(_("The attachment could not be made: %(error)s")
                           % {"error": exc}, certain=True) from exc
        message.attach(file.filename, file.content, file.mimetype)
        made.append((row.pk, file))
    return message, made


def _smtp_error(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                 for code, msg in exc.recipients.values()]
        return _("The mail server refused the address: %(reply)s") % {"reply": "; ".join(parts)}
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return _("The mail server refused the email: %(reply)s") % {
            "reply": f"{exc.smtp_code} {text}"}
    return f"{type(exc).__name__}: {exc}"


def _permanent(exc: Exception) -> bool:
    """Only an address the server says does not exist is not worth retrying."""
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and all(
        code in (550, 551, 553) for code, _msg in exc.recipients.values()
    )


def _transmit(message: EmailMultiAlternatives) -> None:
    connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT or 30)
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as exc:
        # Nothing was sent: a plain failure.
        raise _Outcome(_smtp_error(exc), certain=True) from exc
    try:
        connection.send_messages([message])
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
        # The server answered no: certainly not delivered.
        raise _Outcome(_smtp_error(exc), certain=True, permanent=_permanent(exc)) from exc
    except (smtplib.SMTPException, OSError) as exc:
        # The connection broke mid-conversation: the server may have accepted it.
        raise _Outcome(_smtp_error(exc), certain=False) from exc
    finally:
        try:
            connection.close()
        except Exception:  # the message is out or not; closing changes nothing
            logger.info("Closing the mail connection failed", exc_info=True)


def deliver(pk: int) -> str:
    """Send one outbox email (the Celery task's body); returns what happened."""
    with transaction.atomic():
        claimed = _claim(pk)
    if isinstance(claimed, str):
        return claimed
    email = claimed
    # The claim is committed: from here a crash leaves 'sending' behind for the sweeper.
    made: list[tuple[int, Any]] = []
    try:
        message, made = build_message(email)
        _transmit(message)
    except _Outcome as outcome:
        return _record_failure(email, made, outcome)
    with transaction.atomic():
        locked = OutgoingEmail.objects.select_for_update().get(pk=pk)
        locked.status = Status.SENT
        locked.sent_at = timezone.now()
        locked.save(update_fields=["status", "sent_at"])
        _record_attachments(made)
    return "sent"


def _record_attachments(made: list[tuple[int, Any]]) -> None:
    from .models import OutgoingAttachment

    for pk, file in made:
        OutgoingAttachment.objects.filter(pk=pk).update(
            filename=file.filename[:200], mimetype=file.mimetype[:100], size=len(file.content)
        )


def _record_failure(email: OutgoingEmail, made: list[tuple[int, Any]], outcome: _Outcome) -> str:
    with transaction.atomic():
        locked = OutgoingEmail.objects.select_for_update().get(pk=email.pk)
        if locked.status != Status.SENDING or locked.attempts != email.attempts:
            return "superseded"
        locked.last_error = outcome.error[:2000]
        if not outcome.certain:
            locked.unconfirmed_attempts += 1
        out_of_tries = locked.attempts >= conf("MAX_ATTEMPTS")
        if outcome.permanent or out_of_tries or locked.unconfirmed_attempts > 1:
            locked.status = Status.FAILED
        else:
            delay = min(conf("BACKOFF") * 2 ** (locked.attempts - 1), 3600.0)
            locked.status = Status.QUEUED
            locked.next_attempt_at = timezone.now() + datetime.timedelta(seconds=delay)
            transaction.on_commit(partial(enqueue, locked.pk, delay))
        locked.save(update_fields=["status", "last_error", "unconfirmed_attempts",
                                   "next_attempt_at"])
        _record_attachments(made)
    return "failed" if locked.status == Status.FAILED else "retry"


def sweep_outbox(limit: int = 500) -> list[int]:
    """Enqueue what no task picked up (the broker was down, a worker died): emails due
    longer than the grace period, and emails 'sending' past the timeout."""
    now = timezone.now()
    grace = datetime.timedelta(seconds=conf("QUEUED_GRACE"))
    timeout = datetime.timedelta(seconds=conf("SENDING_TIMEOUT"))
    due = list(
        OutgoingEmail.objects.filter(
            Q(status=Status.QUEUED, next_attempt_at__lte=now - grace)
            | Q(status=Status.SENDING, sending_since__lte=now - timeout)
        ).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        enqueue(pk)
    if due:
        logger.info("Outbox sweeper enqueued %d email(s)", len(due))
    return due


@transaction.atomic
def send_again(email: OutgoingEmail, *, by: Any) -> OutgoingEmail:
    """An administrator retries a failed email (same Message-ID); to the patient's current
    address when it has been corrected since."""
    locked = OutgoingEmail.objects.select_for_update().get(pk=email.pk)
    if locked.status != Status.FAILED:
        return locked
    changes: dict[str, list[str]] = {"status": [locked.status, Status.QUEUED]}
    current = getattr(locked.patient, "email", "") if locked.patient_id else ""
    if current and current != locked.to_email:
        changes["to_email"] = [locked.to_email, current]
        locked.to_email = current
    problem = _recipient_problem(locked.to_email)
    if problem:
        locked.last_error = problem
        locked.save(update_fields=["last_error"])
        return locked
    locked.status = Status.QUEUED
    locked.attempts = 0
    locked.unconfirmed_attempts = 0
    locked.next_attempt_at = timezone.now()
    locked.save(update_fields=["status", "to_email", "attempts", "unconfirmed_attempts",
                               "next_attempt_at"])
    audit.record(locked, AuditEntry.Action.UPDATE, changes, by=by)
    transaction.on_commit(partial(enqueue, locked.pk))
    return locked


def delete_template(template: EmailTemplate, *, by: Any) -> None:
    from core.services import ObjectInUseError, delete_object

    if template.is_standard:
        raise ObjectInUseError(_("A standard email template cannot be deleted."))
    delete_object(template, by=by)


__all__ = [
    "Attachment", "deliver", "enqueue", "ensure_default_templates", "queue_email",
    "release", "render_email", "reset_template_text", "send_again", "send_test_email",
    "sweep_outbox", "template_for",
]
