"""`manage.py check_ledger`: re-derive every balance from the entries (exit 1 on a difference)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from packages import ledger


class Command(BaseCommand):
    help = "Re-derive every credit lot and balance from the ledger entries; print differences."

    def handle(self, *args: Any, **options: Any) -> None:
        result = ledger.check()
        for difference in result.differences:
            self.stdout.write(difference)
        if not result.ok:
            raise CommandError(
                f"ledger inconsistent: {len(result.differences)} difference(s)", returncode=1
            )
        self.stdout.write(f"ledger consistent: {result.lots} lots, {result.entries} entries")
