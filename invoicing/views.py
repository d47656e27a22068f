"""Settings → Invoices → Products and Chart of accounts: configurations of the generic screens."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from core.crud import Column, Crud

from . import services
from .forms import AccountForm, ProductForm
from .models import Account, Product


class AccountCrud(Crud):
    model = Account
    form_class = AccountForm
    name = "accounts"
    columns = [
        Column("code", gettext_lazy("Code"), link=True),
        Column("name", gettext_lazy("Name")),
        Column("get_kind_display", gettext_lazy("Kind")),
        Column("is_active", gettext_lazy("Status"), template="crud/cells/status.html"),
    ]
    search_fields = ("code", "name")
    ordering = ("-is_active", "code", "pk")
    paginate_by = 50
    title = gettext_lazy("Chart of accounts")
    add_label = gettext_lazy("+ Add account")
    empty_text = gettext_lazy("No accounts yet. Add the revenue accounts and balance-sheet "
                              "items of your bookkeeping with + Add account.")
    archive_field = "is_active"
    archive_text = gettext_lazy("It can no longer be chosen; packages, products and credits "
                                "that use it keep it.")


class ProductCrud(Crud):
    model = Product
    form_class = ProductForm
    name = "products"
    columns = [
        Column("code", gettext_lazy("Code"), link=True),
        Column("name", gettext_lazy("Name")),
        Column("price", gettext_lazy("Price"), numeric=True),
        Column("get_vat_treatment_display", gettext_lazy("VAT")),
        Column("package", gettext_lazy("Package")),
        Column("credits_per_unit", gettext_lazy("Number of credits"), numeric=True),
        Column("price_per_credit", gettext_lazy("Price per credit"), numeric=True),
        Column("is_active", gettext_lazy("Status"), template="crud/cells/status.html"),
    ]
    search_fields = ("code", "name", "package__name")
    ordering = ("-is_active", "code", "pk")
    select_related = ("package", "revenue_account")
    paginate_by = 50
    title = gettext_lazy("Products")
    add_label = gettext_lazy("+ Add product")
    empty_text = gettext_lazy("No products yet. Create one with + Add product, and link a "
                              "package to sell its credits.")
    archive_field = "is_active"
    archive_text = gettext_lazy("It is no longer offered for new invoices; invoices already "
                                "made keep it.")

    def save(self, form: Any, *, by: Any) -> Product:
        return services.save_product(form, by=by)
