"""Reads about packages that the screens share."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from invoicing.models import Product
from scheduling.models import AppointmentType


def with_sellability(packages: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate `has_product` and `has_type`: whether an active product and an active
    appointment type link the package (DOMAIN.md: sellable needs both). Two subqueries, so a
    list costs the same number of queries for 1 row as for 50."""
    return packages.annotate(
        has_product=Exists(Product.objects.filter(package=OuterRef("pk"), is_active=True)),
        has_type=Exists(AppointmentType.objects.filter(package=OuterRef("pk"), is_active=True)),
    )
