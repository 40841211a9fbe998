from django.apps import AppConfig


class LowcodeConfig(AppConfig):
    name = "lowcode"
    verbose_name = "Low-code apps"
