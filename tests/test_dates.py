"""Dates as UX.md writes them: 1 dec. 2026 in Dutch (Django's own catalogue has no dot)."""

from __future__ import annotations

import datetime

import pytest
from django.template import Context, Template
from django.utils import translation

from core.templatetags.flux import cell


@pytest.mark.parametrize(("language", "day", "shown"), [
    ("nl", datetime.date(2026, 12, 1), "1 dec. 2026"),
    ("nl", datetime.date(2030, 3, 4), "4 mrt. 2030"),
    ("nl", datetime.date(2026, 5, 1), "1 mei 2026"),
    ("en", datetime.date(2026, 12, 1), "1 Dec. 2026"),
])
def test_short_dates_in_each_language(language: str, day: datetime.date, shown: str) -> None:
    with translation.override(language):
        assert cell(day) == shown
        assert Template('{{ day|date:"j N Y" }}').render(Context({"day": day})) == shown
