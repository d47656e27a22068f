"""Invoice screens for the front desk: the list, the product-invoice form with its live
totals, the invoice page with its PDF. Practitioners get 403 on all of them."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin

from core.roles import FRONT_DESK, RoleRequiredMixin
from patients.models import Patient

from . import invoices
from .invoice_forms import InvoiceForm, LineFormSet, line_initial, product_label
from .invoice_models import Invoice
from .models import Product
from .vat import short_label

Status = Invoice.Status
STATUS_FILTERS = [
    ("", gettext_lazy("All statuses")),
    (Status.DRAFT, Status.DRAFT.label),
    (Status.OPEN, Status.OPEN.label),
    (Invoice.OVERDUE, gettext_lazy("Overdue")),
    (Status.PAID, Status.PAID.label),
    (Status.CREDITED, Status.CREDITED.label),
]
LINES_PREFIX = "lines"


class FrontDeskMixin(RoleRequiredMixin):
    allowed_roles = FRONT_DESK


def parse_date(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------- list

def filter_invoices(params: Any) -> tuple[QuerySet[Invoice], dict[str, Any]]:
    """The list's filters: search (number, patient), status as shown, patient, period."""
    today = timezone.localdate()
    from .payments import with_money  # the open amounts in one query (issue 7)

    qs = with_money(Invoice.objects.select_related("patient"))
    term = (params.get("q") or "").strip()[:100]
    for word in term.split():
        qs = qs.filter(Q(number__icontains=word) | Q(patient__first_name__icontains=word)
                       | Q(patient__last_name__icontains=word))
    status = params.get("status") or ""
    if status == Invoice.OVERDUE:
        qs = qs.filter(status=Status.OPEN, due_date__lt=today)
    elif status == Status.OPEN:
        qs = qs.filter(status=Status.OPEN, due_date__gte=today)
    elif status in Status.values:
        qs = qs.filter(status=status)
    else:
        status = ""
    patient = None
    if (params.get("patient") or "").isdigit():
        patient = Patient.objects.filter(pk=int(params["patient"])).first()
        if patient is not None:
            qs = qs.filter(patient=patient)
    date_from, date_to = parse_date(params.get("from")), parse_date(params.get("to"))
    if date_from:
        qs = qs.filter(issue_date__gte=date_from)
    if date_to:
        qs = qs.filter(issue_date__lte=date_to)
    # Drafts first (they still need doing), then the newest numbers.
    qs = qs.order_by(F("issue_date").desc(nulls_first=True),
                     F("sequence").desc(nulls_first=True), "-created_at", "-pk")
    filters = {"q": term, "status": status, "patient": patient,
               "from": date_from.isoformat() if date_from else "",
               "to": date_to.isoformat() if date_to else ""}
    return qs, filters


def invoice_table(params: Any) -> dict[str, Any]:
    """The invoice table's context: the list's, and the patient page's Invoices tab."""
    qs, filters = filter_invoices(params)
    page = Paginator(qs, 25).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    new_url = reverse("invoice-new")
    if filters["patient"] is not None:
        new_url += f"?patient={filters['patient'].pk}"
    return {
        "page": page, "filters": filters, "query": query.urlencode(), "new_url": new_url,
        "filtered": any(v for k, v in filters.items() if k != "patient"),
    }


class InvoiceListView(FrontDeskMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        context = invoice_table(request.GET) | {
            "nav": "invoices", "title": _("Invoices"), "status_choices": STATUS_FILTERS,
        }
        template = ("invoicing/invoice_table.html" if request.headers.get("HX-Request")
                    else "invoicing/invoice_list.html")
        return render(request, template, context)


# ---------------------------------------------------------------------------- the form

def editable_draft(pk: int | None) -> Invoice | None:
    if pk is None:
        return None
    return get_object_or_404(Invoice.objects.select_related("patient"), pk=pk)


def start_lines(request: HttpRequest) -> list[dict[str, Any]]:
    """Lines a new invoice opens with: ?product=<pk>, or ?package=<pk> (Sell package)."""
    products = Product.objects.filter(is_active=True)
    product = None
    if (request.GET.get("product") or "").isdigit():
        product = products.filter(pk=int(request.GET["product"])).first()
    elif (request.GET.get("package") or "").isdigit():
        product = products.filter(package_id=int(request.GET["package"])).order_by("code").first()
    return [{"product": product_label(product), "quantity": 1}] if product else []


class InvoiceFormView(FrontDeskMixin, View):
    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        invoice = editable_draft(pk)
        if invoice is not None and not invoice.is_draft:
            return redirect("invoice-detail", pk=invoice.pk)
        if invoice is not None:
            patient: Patient | None = invoice.patient
            form = InvoiceForm(initial={"patient": invoice.patient_id,
                                        "version": invoice.version})
            lines = line_initial(invoice.lines.select_related("product").order_by("position"))
        else:
            raw = request.GET.get("patient") or ""
            patient = Patient.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
            form = InvoiceForm(initial={"patient": patient.pk if patient else None,
                                        "request_key": uuid.uuid4()})
            lines = start_lines(request)
        formset = LineFormSet(prefix=LINES_PREFIX, initial=lines)
        return self.show(request, invoice, form, formset, patient)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        invoice = editable_draft(pk)
        form = InvoiceForm(request.POST)
        formset = LineFormSet(request.POST, prefix=LINES_PREFIX)
        patient: Patient | None = None
        if "refresh" in request.POST:  # Enter in a field: recalculate, save nothing
            if form.is_valid():
                patient = form.cleaned_data["patient"]
            return self.show(request, invoice, form, formset, patient)
        if form.is_valid() and formset.is_valid():
            patient = form.cleaned_data["patient"]
            try:
                if invoice is None:
                    invoice = invoices.create_draft(
                        patient=patient, lines=formset.lines(), by=request.user,
                        request_key=form.cleaned_data["request_key"])
                else:
                    invoice = invoices.update_draft(
                        invoice, patient=patient, lines=formset.lines(),
                        version=form.cleaned_data["version"], by=request.user)
            except invoices.InvoiceError as exc:
                form.add_error(None, str(exc))
            else:
                if "issue" in request.POST:
                    return issue_and_redirect(request, invoice)
                messages.success(request, _("The draft invoice has been saved."))
                return redirect("invoice-detail", pk=invoice.pk)
        elif form.is_valid():
            patient = form.cleaned_data["patient"]
        return self.show(request, invoice, form, formset, patient, status=422)

    def show(self, request: HttpRequest, invoice: Invoice | None, form: InvoiceForm,
             formset: Any, patient: Patient | None, status: int = 200) -> HttpResponse:
        preview = preview_rows(formset)
        context = {
            "nav": "invoices", "invoice": invoice, "form": form, "formset": formset,
            "patient": patient, "preview": preview,
            "line_rows": [(i, line, preview["rows"].get(i))
                          for i, line in enumerate(formset.forms)],
            "products": Product.objects.filter(is_active=True).order_by("code"),
            "title": _("Product invoice"),
            "cancel_url": (reverse("invoice-detail", args=[invoice.pk]) if invoice
                           else reverse("invoices")),
        }
        return render(request, "invoicing/invoice_form.html", context, status=status)


def issue_and_redirect(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    try:
        issued = invoices.issue_invoice(invoice, by=request.user)
    except invoices.InvoiceError as exc:
        messages.error(request, _("The draft has been saved, but the invoice could not be "
                                  "created: %(reason)s") % {"reason": exc})
    else:
        messages.success(request, _("Invoice %(number)s has been created.")
                         % {"number": issued.number})
    return redirect("invoice-detail", pk=invoice.pk)


def preview_rows(formset: Any) -> dict[str, Any]:
    """Per form row its price, VAT and amount as far as it can be read, and the totals."""
    if not formset.is_bound:
        formset = LineFormSet(as_post_data(formset), prefix=LINES_PREFIX)
    forms = formset.kept()
    totals = invoices.price([form.line() for form in forms])
    rows: dict[int, dict[str, Any]] = {}
    for form, amounts in zip(forms, totals.lines, strict=True):
        product = form.cleaned_data["product"]
        rows[int(form.prefix.rsplit("-", 1)[1])] = {
            "price": product.price, "amount": amounts.gross,
            "vat": short_label(product.vat_treatment)}
    cells = [(i, rows.get(i)) for i in range(formset.total_form_count())]
    return {"rows": rows, "cells": cells, "totals": totals}


def as_post_data(formset: Any) -> dict[str, Any]:
    """What the browser would post for an unbound formset (to preview its first render)."""
    data: dict[str, Any] = {
        f"{formset.prefix}-TOTAL_FORMS": formset.total_form_count(),
        f"{formset.prefix}-INITIAL_FORMS": formset.initial_form_count(),
    }
    for form in formset.forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is not None:
                data[f"{form.prefix}-{name}"] = value
    return data


class InvoicePreviewView(FrontDeskMixin, View):
    """HTMX: totals and per-line amounts while the receptionist types."""

    def post(self, request: HttpRequest) -> HttpResponse:
        formset = LineFormSet(request.POST, prefix=LINES_PREFIX)
        formset.is_valid()
        return render(request, "invoicing/invoice_totals.html",
                      {"preview": preview_rows(formset), "oob": True})


class InvoiceLineRowView(FrontDeskMixin, View):
    """HTMX: one more empty line, and the formset's raised form count."""

    def get(self, request: HttpRequest) -> HttpResponse:
        raw = request.GET.get(f"{LINES_PREFIX}-TOTAL_FORMS") or "0"
        index = min(int(raw), 49) if raw.isdigit() else 0
        formset = LineFormSet(prefix=LINES_PREFIX)
        form = formset.empty_form  # with the DELETE box the formset adds
        form.prefix = formset.add_prefix(index)
        return render(request, "invoicing/invoice_line_row.html",
                      {"line": form, "index": index, "total_forms": index + 1, "oob": True})


class PatientSearchView(FrontDeskMixin, View):
    """HTMX: patients to choose from by name, postal code or date of birth."""

    def get(self, request: HttpRequest) -> HttpResponse:
        term = (request.GET.get("patient_q") or "").strip()[:100]
        found: list[Patient] = []
        if len(term) >= 2:
            qs = Patient.objects.all()
            for word in term.split():
                qs = qs.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word)
                               | Q(postal_code__icontains=word))
            found = list(qs.order_by("last_name", "first_name")[:10])
        return render(request, "invoicing/invoice_patient_options.html",
                      {"found": found, "term": term})


# ---------------------------------------------------------------------------- one invoice

class InvoiceDetailView(FrontDeskMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice: Invoice = get_object_or_404(Invoice.objects.select_related("patient"), pk=pk)
        context = {"nav": "invoices", "invoice": invoice, "title": str(invoice),
                   "lines": invoice.lines.select_related("credit_lot").order_by("position"),
                   "rates": invoice.rate_totals(), "pdf_stale": pdf_stale(invoice)}
        if not invoice.is_draft:  # payments, credit notes, refunds (issue 7)
            from .payment_views import money_context

            context |= money_context(invoice)
        return render(request, "invoicing/invoice_detail.html", context)


def pdf_stale(invoice: Invoice) -> bool:
    """Waiting much longer than a render takes: offer the retry button as well."""
    waited = timezone.now() - (invoice.pdf_updated_at or timezone.now())
    return invoice.pdf_state == Invoice.PdfState.PENDING and waited > datetime.timedelta(
        minutes=3)


class InvoicePdfStatusView(FrontDeskMixin, View):
    """HTMX: polled while the PDF is being prepared."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        return render(request, "invoicing/invoice_pdf_status.html",
                      {"invoice": invoice, "pdf_stale": pdf_stale(invoice)})


class InvoiceIssueView(FrontDeskMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        return issue_and_redirect(request, get_object_or_404(Invoice, pk=pk))


class InvoiceDeleteDraftView(FrontDeskMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        try:
            invoices.delete_draft(invoice, by=request.user)
        except invoices.InvoiceError as exc:
            messages.error(request, str(exc))
            return redirect("invoice-detail", pk=pk)
        messages.success(request, _("The draft invoice has been deleted."))
        return HttpResponseRedirect(reverse("invoices"))


class InvoicePdfRetryView(FrontDeskMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoices.retry_pdf(get_object_or_404(Invoice, pk=pk), by=request.user)
        messages.success(request, _("The PDF is being prepared again."))
        return redirect("invoice-detail", pk=pk)


class InvoicePdfView(FrontDeskMixin, View):
    """The PDF, inline (shown on the invoice page) or as a download."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return xframe_options_sameorigin(super().as_view(**initkwargs))

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        invoice = get_object_or_404(Invoice, pk=pk)
        if invoice.pdf_state != Invoice.PdfState.READY or not invoice.pdf:
            raise Http404
        download = request.GET.get("download") == "1"
        response = FileResponse(invoice.pdf.open("rb"), content_type="application/pdf",
                                as_attachment=download, filename=f"{invoice.number}.pdf")
        response["Cache-Control"] = "private, no-store"
        return response
