"""Invoices in the Django admin: to look at only. Issued invoices are immutable and nothing
in the admin writes around the services (invoicing.invoices), so it adds, changes and
deletes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .invoice_models import Invoice, InvoiceCounter, InvoiceLine


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LineInline(admin.TabularInline):  # type: ignore[type-arg]
    model = InvoiceLine
    fields = readonly_fields = (
        "position", "code", "description", "quantity", "discount_percent", "unit_price",
        "vat_treatment", "gross", "net", "vat", "credit_lot")
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "issue_date", "patient", "total", "status", "pdf_state"]
    list_filter = ["status", "pdf_state"]
    search_fields = ["number", "patient__last_name"]
    inlines = [LineInline]


@admin.register(InvoiceCounter)
class InvoiceCounterAdmin(ReadOnlyAdmin):
    list_display = ["year", "last_number"]
