from django.apps import AppConfig


class LowcodeConfig(AppConfig):
    name = "lowcode"
    verbose_name = "Low-code apps"

    def ready(self) -> None:
        from lowcode.field_types import register_built_in_types

        register_built_in_types()
        # Modules that plug into lowcode.hooks (and the chat card handler) at import.
        import lowcode.approvals
        import lowcode.reports  # noqa: F401
