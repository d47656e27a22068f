"""Settings → Invoices → Packages: a configuration of the generic screens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.crud import Column, Crud

from . import queries, services
from .forms import PackageForm
from .models import Package


class PackageCrud(Crud):
    model = Package
    form_class = PackageForm
    name = "packages"
    columns = [
        Column("name", gettext_lazy("Name"), link=True),
        Column("internal_rate", gettext_lazy("Internal rate"), numeric=True),
        Column("ledger_account", gettext_lazy("Ledger account")),
        Column("balance_sheet_item", gettext_lazy("Balance-sheet item")),
        Column("is_active", gettext_lazy("Status"), template="crud/cells/status.html"),
        Column("has_product", gettext_lazy("Sellable"), template="packages/cells/sellable.html"),
    ]
    search_fields = ("name",)
    ordering = ("-is_active", "name", "pk")
    select_related = ("ledger_account", "balance_sheet_item")
    paginate_by = 50
    title = gettext_lazy("Packages")
    add_label = gettext_lazy("+ Add package")
    empty_text = gettext_lazy("No packages yet. Create one with + Add package.")
    archive_field = "is_active"
    archive_text = gettext_lazy("It can no longer be linked to new products or appointment "
                                "types; credits already sold keep working.")

    def queryset(self) -> QuerySet[Any]:
        return queries.with_sellability(super().queryset())

    def save(self, form: Any, *, by: Any) -> Package:
        return services.save_package(form, by=by)

    def saved_message(self, obj: Any, created: bool) -> str:
        if obj.is_active:
            return _("Package ‘%(name)s’ has been saved and is active.") % {"name": obj}
        return _("Package ‘%(name)s’ has been saved; it is archived.") % {"name": obj}
