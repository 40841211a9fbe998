"""Remember when memberships stop being active, so a past day's member count stays right.

Registered on ``core.hooks`` in ``CoreConfig.ready()``: a removal deletes the membership
row, and a suspension changes it in place; ``MemberLapse`` keeps both moments.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from core.metrics.models import MemberLapse
from core.models import Membership


def _lapse(membership: Membership, reason: str) -> MemberLapse:
    return MemberLapse.objects.create(
        org_id=membership.org_id,
        member_id=membership.pk,
        user_id=membership.user_id,
        is_app=bool(Membership.objects.filter(pk=membership.pk, user__is_app=True).exists()),
        joined_at=membership.joined_at,
        ended_at=timezone.now(),
        reason=reason,
    )


def membership_removing(membership: Any) -> None:
    if membership.status == Membership.Status.ACTIVE:
        _lapse(membership, MemberLapse.Reason.REMOVED)


def membership_changed(membership: Any) -> None:
    open_suspension = MemberLapse.objects.filter(
        org_id=membership.org_id,
        member_id=membership.pk,
        reason=MemberLapse.Reason.SUSPENDED,
        reactivated_at__isnull=True,
    )
    if membership.status == Membership.Status.SUSPENDED:
        if not open_suspension.exists():
            _lapse(membership, MemberLapse.Reason.SUSPENDED)
    elif membership.status == Membership.Status.ACTIVE:
        open_suspension.update(reactivated_at=timezone.now())
