from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self) -> None:
        from connectors.builtin import register_built_in_connectors
        from connectors.registries import load_plugins

        register_built_in_connectors()
        load_plugins()
