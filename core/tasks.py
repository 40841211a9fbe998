"""Background work for core: e-mails."""

from __future__ import annotations

from celery import shared_task
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from core.context_processors import email_brand
from core.models import Invitation


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(invitation_id: int, accept_url: str) -> None:
    invitation = Invitation.objects.select_related("org", "invited_by").get(pk=invitation_id)
    locale = invitation.invited_by.locale if invitation.invited_by else "en"
    with translation.override(locale):
        context = {
            "invitation": invitation,
            "org": invitation.org,
            "accept_url": accept_url,
            "brand": email_brand(invitation.org),
        }
        subject = render_to_string("core/email/invitation_subject.txt", context).strip()
        body = render_to_string("core/email/invitation.txt", context)
        html = render_to_string("core/email/invitation.html", context)
    send_mail(subject, body, None, [invitation.email], html_message=html)
