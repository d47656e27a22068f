"""Read-only: every change goes through communication.services and the Settings screens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import EmailTemplate, OutgoingEmail


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ReadOnly):
    list_display = ("created_at", "to_email", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "event")
    search_fields = ("to_email", "subject", "message_id", "idempotency_key")


@admin.register(EmailTemplate)
class EmailTemplateAdmin(ReadOnly):
    list_display = ("event", "name", "enabled")
