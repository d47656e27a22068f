from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo practice and its users (development only; idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not (settings.DEBUG or settings.TESTING):
            raise CommandError(
                "The demo loader runs only with DJANGO_DEBUG=1: never in production."
            )
        created = load_demo()
        if created:
            self.stdout.write(f"Demo loaded: {', '.join(created)}.")
        else:
            self.stdout.write("Demo already loaded; nothing changed.")
