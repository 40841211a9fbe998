from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: organisations and identity"

    def ready(self) -> None:
        from core import hooks
        from core.api import schema  # noqa: F401  (registers OpenAPI extensions)
        from core.metrics import lapses
        from core.metrics import tasks as _metrics_tasks  # noqa: F401  (Celery registration)

        hooks.MEMBERSHIP_CHANGED.append(lapses.membership_changed)
        hooks.MEMBERSHIP_REMOVING.append(lapses.membership_removing)
