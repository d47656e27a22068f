from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .validators import validate_iban, validate_kvk, validate_vat_id


class Practice(models.Model):
    """The one practice this installation serves (ARCHITECTURE.md: one practice per install)."""

    name = models.CharField(_("name"), max_length=200, default="Mijn praktijk")
    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    kvk_number = models.CharField(
        _("KvK number"), max_length=8, blank=True, validators=[validate_kvk]
    )
    vat_id = models.CharField(
        _("VAT id"), max_length=20, blank=True, validators=[validate_vat_id],
        help_text=_("Leave empty when the practice is not registered for VAT."),
    )
    iban = models.CharField(_("IBAN"), max_length=40, blank=True, validators=[validate_iban])
    logo = models.ImageField(_("logo"), upload_to="practice/", blank=True)
    invoice_prefix = models.CharField(
        _("invoice number prefix"), max_length=10, blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9-]*$", _("Use letters, digits and dashes only."))],
        help_text=_("Printed before the number, e.g. FX gives FX2026-00001."),
    )
    payment_term_days = models.PositiveSmallIntegerField(
        _("payment term in days"), default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    reminder_hours = models.PositiveSmallIntegerField(
        _("appointment reminder (hours before)"), default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 14)],
    )
    expiry_warning_days = models.PositiveSmallIntegerField(
        _("warn about expiring credits (days before)"), default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    credits_available_at_issue = models.BooleanField(
        _("credits available at issue"), default=False,
        help_text=_("Off: a package's credits become available when its invoice is fully "
                    "paid. On: from the moment the invoice is created."),
    )

    class Meta:
        verbose_name = _("practice")
        verbose_name_plural = _("practice")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def get(cls) -> Practice:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class AuditEntry(models.Model):
    """Who changed which object when, field by field. Written only by core.audit."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("changed")
        DELETE = "delete", _("deleted")
        ARCHIVE = "archive", _("archived")
        DEACTIVATE = "deactivate", _("deactivated")

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    app_label = models.CharField(max_length=100)
    model = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300)
    action = models.CharField(max_length=20, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["app_label", "model", "object_id", "-at"])]

    def __str__(self) -> str:
        return f"{self.object_repr} {self.action}"
