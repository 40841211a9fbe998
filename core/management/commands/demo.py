"""``manage.py demo``: build the demo organisation and print how to sign in to it.

The data and the registry of demo steps other apps extend live in ``core.demo``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from core.demo import run_demo


class Command(BaseCommand):
    help = "Create (or top up) the Northfield Dairy demo organisation. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            default=settings.TACK_PUBLIC_URL,
            help="Where Tack is served, for the printed login link (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = options["verbosity"] >= 2
        result = run_demo(
            log=self.stdout.write if verbose else lambda message: None,
            warn=lambda message: self.stderr.write(f"Warning: {message}"),
        )
        base = str(options["url"]).rstrip("/")
        login_url = base + reverse("core:login")
        for label, path in result.links:
            self.stdout.write(f"{label}: {base}{path}")
        self.stdout.write(
            f"Demo organisation: {result.org.name} ({result.member_count} members)\n"
            f"Log in at {login_url}\n"
            f"  e-mail:   {result.admin_email}\n"
            f"  password: {result.password}\n"
            f"Every demo member (e.g. li.wei@northfield-dairy.example) has the same password."
        )
