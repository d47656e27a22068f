from django.urls import path

from . import invoice_views as views
from . import payment_views

urlpatterns = [
    path("", views.InvoiceListView.as_view(), name="invoices"),
    path("new/", views.InvoiceFormView.as_view(), name="invoice-new"),
    path("preview/", views.InvoicePreviewView.as_view(), name="invoice-preview"),
    path("line/", views.InvoiceLineRowView.as_view(), name="invoice-line-row"),
    path("patients/", views.PatientSearchView.as_view(), name="invoice-patient-search"),
    path("<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("<int:pk>/edit/", views.InvoiceFormView.as_view(), name="invoice-edit"),
    path("<int:pk>/issue/", views.InvoiceIssueView.as_view(), name="invoice-issue"),
    path("<int:pk>/delete/", views.InvoiceDeleteDraftView.as_view(), name="invoice-delete"),
    path("<int:pk>/pdf/", views.InvoicePdfView.as_view(), name="invoice-pdf"),
    path("<int:pk>/pdf/status/", views.InvoicePdfStatusView.as_view(), name="invoice-pdf-status"),
    path("<int:pk>/pdf/retry/", views.InvoicePdfRetryView.as_view(), name="invoice-pdf-retry"),
    path("<int:pk>/payments/new/", payment_views.PaymentCreateView.as_view(),
         name="payment-new"),
    path("payments/<int:pk>/reverse/", payment_views.PaymentReverseView.as_view(),
         name="payment-reverse"),
    path("<int:pk>/credit/", payment_views.CreditNoteCreateView.as_view(), name="credit-note-new"),
    path("credit-notes/<int:pk>/pdf/", payment_views.CreditNotePdfView.as_view(),
         name="credit-note-pdf"),
    path("<int:pk>/refunds/new/", payment_views.RefundCreateView.as_view(), name="refund-new"),
    path("refunds/", payment_views.RefundListView.as_view(), name="refunds"),
]
