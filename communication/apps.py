from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CommunicationConfig(AppConfig):
    name = "communication"
    verbose_name = "Communication"

    def ready(self) -> None:
        from .services import ensure_default_templates

        def create_defaults(**kwargs: object) -> None:
            ensure_default_templates()

        post_migrate.connect(create_defaults, sender=self, weak=False)
