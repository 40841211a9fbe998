from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: organisations and identity"

    def ready(self) -> None:
        from core.api import schema  # noqa: F401  (registers OpenAPI extensions)
