"""Email templates (per event, editable per language) and the outbox of every email sent."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

LANGUAGES = ("nl", "en")


class Event(models.TextChoices):
    """What makes the practice email a patient; the order is the order of the list."""

    PRODUCT_INVOICE = "product_invoice", _("Product invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")
    PAYMENT_RECEIVED = "payment_received", _("Payment received / credits available")
    APPOINTMENT_CONFIRMATION = "appointment_confirmation", _("Appointment confirmation")
    APPOINTMENT_REMINDER = "appointment_reminder", _("Appointment reminder")
    APPOINTMENT_CANCELLED = "appointment_cancelled", _("Appointment cancelled")
    CREDITS_LOW = "credits_low", _("Credits running low")
    CREDITS_EXPIRING = "credits_expiring", _("Credits expiring")


ALWAYS_ON = frozenset({Event.PRODUCT_INVOICE})


class EmailTemplate(models.Model):
    """One email of one event. `name` is empty for the event's standard template; product
    invoices may have extra named templates that a product chooses."""

    event = models.CharField(_("email"), max_length=40, choices=Event.choices)
    name = models.CharField(
        _("name"), max_length=100, blank=True,
        help_text=_("A product can choose this template for its invoices by this name."),
    )
    enabled = models.BooleanField(
        _("send this email"), default=True,
        help_text=_("Switched off, patients do not receive this email, in any language."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="email_template_unique_name"),
            models.CheckConstraint(
                name="email_template_variants_only_for_invoices",
                condition=models.Q(name="") | models.Q(event=Event.PRODUCT_INVOICE),
            ),
            models.CheckConstraint(
                name="email_template_invoice_always_on",
                condition=~models.Q(event=Event.PRODUCT_INVOICE) | models.Q(enabled=True),
            ),
        ]

    def __str__(self) -> str:
        label = str(Event(self.event).label)
        return f"{label}: {self.name}" if self.name else label

    @property
    def title(self) -> str:
        return str(self)

    @property
    def is_standard(self) -> bool:
        return self.name == ""

    @property
    def can_switch_off(self) -> bool:
        return self.event not in ALWAYS_ON

    def text(self, language: str) -> EmailTemplateText | None:
        for text in self.texts.all():
            if text.language == language:
                return text
        return None


class EmailTemplateText(models.Model):
    """The subject and body of a template in one language."""

    template = models.ForeignKey(EmailTemplate, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(max_length=2, choices=[(c, c) for c in LANGUAGES])
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "language"], name="email_text_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.template} ({self.language})"


class OutgoingEmail(models.Model):
    """The outbox and the log: written in the transaction of the event that causes it,
    sent by a Celery task, kept as what was sent."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    idempotency_key = models.CharField(max_length=200, unique=True)
    event = models.CharField(_("email"), max_length=40, choices=Event.choices)
    is_test = models.BooleanField(_("test email"), default=False)
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(_("language"), max_length=2)
    to_email = models.CharField(_("to"), max_length=254)
    to_name = models.CharField(max_length=200, blank=True)
    from_email = models.CharField(_("from"), max_length=300)
    reply_to = models.CharField(_("reply to"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=300)
    body_text = models.TextField(_("plain text"))
    body_html = models.TextField(_("HTML"))
    message_id = models.CharField(_("Message-ID"), max_length=250, unique=True)

    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Attempts whose outcome nobody saw (the worker died, or the connection broke after
    # the message went out): DOMAIN.md rule 8 allows one resend after one of them.
    unconfirmed_attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(db_index=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT,
        related_name="emails", verbose_name=_("patient"),
    )
    related_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    related_id = models.CharField(max_length=64, blank=True)
    related = GenericForeignKey("related_type", "related_id")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("email")
        verbose_name_plural = _("sent emails")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["patient", "-created_at"], name="outbox_patient"),
        ]

    def __str__(self) -> str:
        return self.subject


class OutgoingAttachment(models.Model):
    """One attachment: bytes stored at queue time, a file in storage, or made at send time
    by a registered attachment provider (e.g. the invoice PDF, rendered if not there yet)."""

    email = models.ForeignKey(OutgoingEmail, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveSmallIntegerField(default=0)
    provider = models.CharField(max_length=200, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    storage_name = models.CharField(max_length=300, blank=True)
    content = models.BinaryField(null=True, blank=True)
    # What was (last) sent: filled in when the message is built.
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    mimetype = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["email", "position"]
        constraints = [
            models.CheckConstraint(
                name="attachment_has_one_source",
                condition=(
                    models.Q(provider__gt="", storage_name="", content__isnull=True)
                    | models.Q(provider="", storage_name__gt="", content__isnull=True)
                    | models.Q(provider="", storage_name="", content__isnull=False)
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.filename or self.provider or self.storage_name
