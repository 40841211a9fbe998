"""Billing and revenue API.

Organisation routes (``/api/v1/orgs/<org_id>/billing/``; ``marketplace.billing.manage``,
admins by default): the overview (edition and catalogue), subscriptions (subscribe to an
edition, change plan, cancel, resume), invoices (pay) and payments.

Partner routes (``/api/v1/partners/<partner_id>/``; partner owners and finance members,
and operators; anyone else gets 404 as for a missing partner): balance, ledger entries,
monthly statements and payouts.

Operator routes (``/api/v1/marketplace/billing/``; ``is_staff``): commission rates,
edition quotes, bank transfers received, refunds; payouts are POSTed on the partner route.
Money-moving calls require an ``idempotency_key``: the same key returns the first result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.access import as_id
from core.api.base import OrgScopedViewSet
from core.api.pagination import NewestFirstCursorPagination
from core.dates import parse_day, parse_moment
from core.errors import Forbidden, NotFound, ValidationFailed
from core.models import Organization, User
from marketplace import billing, ledger
from marketplace.models import (
    App,
    CommissionRate,
    EditionQuote,
    Invoice,
    LedgerEntry,
    Partner,
    PartnerMember,
    PartnerStatement,
    Payment,
    Payout,
    Refund,
    Subscription,
)

MANAGE = "marketplace.billing.manage"

# --- serializers --------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    app_name = serializers.CharField(source="app.name", default=None, read_only=True)

    class Meta:
        model = Subscription
        fields = (
            "id",
            "kind",
            "app",
            "app_name",
            "edition",
            "plan_code",
            "plan_name",
            "plan_type",
            "interval",
            "unit_amount",
            "currency",
            "status",
            "trial_end",
            "current_period_start",
            "current_period_end",
            "next_billing_date",
            "cancel_at_period_end",
            "canceled_at",
            "credit",
            "payment_provider",
            "created_at",
        )
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    class Meta:
        model = Invoice
        fields = (
            "id",
            "number",
            "subscription",
            "kind",
            "period_start",
            "period_end",
            "description",
            "quantity",
            "subtotal",
            "credit_applied",
            "amount",
            "currency",
            "status",
            "issued_at",
            "paid_at",
        )
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    class Meta:
        model = Payment
        fields = (
            "id",
            "invoice",
            "provider",
            "amount",
            "currency",
            "status",
            "reference",
            "failure_reason",
            "refunded_amount",
            "created_at",
        )
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer[Refund]):
    class Meta:
        model = Refund
        fields = ("id", "payment", "amount", "currency", "reason", "reference", "created_at")
        read_only_fields = fields


class SubscribeSerializer(serializers.Serializer[Any]):
    edition = serializers.CharField(
        max_length=20, help_text="professional, exclusive or proprietary (by quote)"
    )
    provider = serializers.CharField(
        max_length=20, default="manual", help_text="manual (bank transfer) or test"
    )
    token = serializers.CharField(required=False, allow_blank=True, max_length=80, default="")


class ChangePlanSerializer(serializers.Serializer[Any]):
    plan = serializers.CharField(max_length=60)


class CancelSerializer(serializers.Serializer[Any]):
    at_period_end = serializers.BooleanField(default=True)


class PaySerializer(serializers.Serializer[Any]):
    idempotency_key = serializers.CharField(max_length=100)
    token = serializers.CharField(required=False, allow_blank=True, max_length=80, default="")


class EditionSerializer(serializers.Serializer[Any]):
    edition = serializers.CharField()
    name = serializers.CharField()
    amount = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    interval = serializers.CharField(allow_null=True)
    member_limit = serializers.IntegerField(allow_null=True)
    by_quote = serializers.BooleanField()


class OverviewSerializer(serializers.Serializer[Any]):
    edition = serializers.CharField()
    member_limit = serializers.IntegerField()
    seats = serializers.IntegerField()
    editions = EditionSerializer(many=True)


class LedgerEntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    kind = serializers.CharField(source="transaction.kind", read_only=True)
    transaction = serializers.UUIDField(source="transaction_id", read_only=True)
    app = serializers.IntegerField(source="transaction.app_id", read_only=True, allow_null=True)
    payment = serializers.IntegerField(
        source="transaction.payment_id", read_only=True, allow_null=True
    )
    rate = serializers.DecimalField(max_digits=7, decimal_places=6, allow_null=True)

    class Meta:
        model = LedgerEntry
        fields = (
            "id",
            "transaction",
            "kind",
            "app",
            "payment",
            "amount",
            "currency",
            "rate",
            "booked_at",
        )
        read_only_fields = fields


class PaginatedLedgerEntrySerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LedgerEntrySerializer(many=True)


class StatementSerializer(serializers.ModelSerializer[PartnerStatement]):
    class Meta:
        model = PartnerStatement
        fields = (
            "id",
            "month",
            "currency",
            "gross",
            "fees",
            "refunds",
            "net",
            "payouts",
            "opening_balance",
            "closing_balance",
            "generated_at",
        )
        read_only_fields = fields


class PayoutSerializer(serializers.ModelSerializer[Payout]):
    class Meta:
        model = Payout
        fields = ("id", "amount", "currency", "reference", "created_at")
        read_only_fields = fields


class PayoutRequestSerializer(serializers.Serializer[Any]):
    amount = serializers.IntegerField(min_value=1)
    currency = serializers.CharField(max_length=3, default="CNY")
    reference = serializers.CharField(max_length=120, required=False, allow_blank=True)
    idempotency_key = serializers.CharField(max_length=100)


class BalanceSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    balance = serializers.IntegerField()
    payout_minimum = serializers.IntegerField()


class CommissionRateSerializer(serializers.ModelSerializer[CommissionRate]):
    rate = serializers.DecimalField(max_digits=7, decimal_places=6)

    class Meta:
        model = CommissionRate
        fields = ("id", "partner", "app", "rate", "effective_from", "note", "created_at")
        read_only_fields = ("id", "created_at")


class QuoteSerializer(serializers.ModelSerializer[EditionQuote]):
    class Meta:
        model = EditionQuote
        fields = (
            "id",
            "org",
            "edition",
            "amount",
            "currency",
            "interval",
            "member_limit",
            "note",
            "created_at",
        )
        read_only_fields = ("id", "created_at")


class ManualPaymentSerializer(serializers.Serializer[Any]):
    reference = serializers.CharField(max_length=120)
    idempotency_key = serializers.CharField(max_length=100)


class RefundRequestSerializer(serializers.Serializer[Any]):
    amount = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    idempotency_key = serializers.CharField(max_length=100)


def _data(serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _user(request: Request) -> User:
    user: User = request.user  # type: ignore[assignment]
    return user


# --- organisation routes ------------------------------------------------------------------


class BillingOverviewViewSet(OrgScopedViewSet):
    queryset = Subscription.objects.all()
    serializer_class = OverviewSerializer
    pagination_class = None
    required_permissions: ClassVar[dict[str, str]] = {"*": MANAGE}

    @extend_schema(responses=OverviewSerializer)
    def overview(self, request: Request, org_id: str) -> Response:
        seats = billing.active_seats([self.org.pk]).get(self.org.pk, 0)
        return Response(
            {
                "edition": self.org.edition,
                "member_limit": self.org.member_limit,
                "seats": seats,
                "editions": billing.edition_catalogue(self.org),
            }
        )


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Subscription.objects.select_related("app")
    serializer_class = SubscriptionSerializer
    pagination_class = NewestFirstCursorPagination
    required_permissions: ClassVar[dict[str, str]] = {"*": MANAGE}

    def _sub(self) -> Subscription:
        sub: Subscription = self.get_object()
        return sub

    @extend_schema(request=SubscribeSerializer, responses={201: SubscriptionSerializer})
    def create(self, request: Request, org_id: str) -> Response:
        """Subscribe the organisation to a paid edition (Exclusive and Proprietary need an
        operator's quote first)."""
        data = _data(SubscribeSerializer, request)
        sub = billing.do_subscribe_edition(
            self.membership,
            edition=data["edition"],
            provider=data["provider"],
            token=data["token"],
        )
        return Response(SubscriptionSerializer(sub).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ChangePlanSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"], url_path="change-plan")
    def change_plan(self, request: Request, org_id: str, pk: str) -> Response:
        """Upgrade or downgrade, prorated (see docs/BILLING.md)."""
        sub = self._sub()
        data = _data(ChangePlanSerializer, request)
        sub, _invoice = billing.do_change_plan(self.membership, sub, plan_code=data["plan"])
        return Response(SubscriptionSerializer(sub).data)

    @extend_schema(request=CancelSerializer, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, org_id: str, pk: str) -> Response:
        sub = self._sub()
        data = _data(CancelSerializer, request)
        sub = billing.do_cancel(self.membership, sub, at_period_end=data["at_period_end"])
        return Response(SubscriptionSerializer(sub).data)

    @extend_schema(request=None, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, org_id: str, pk: str) -> Response:
        sub = billing.do_resume(self.membership, self._sub())
        return Response(SubscriptionSerializer(sub).data)


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Invoice.objects.all()
    serializer_class = InvoiceSerializer
    pagination_class = NewestFirstCursorPagination
    required_permissions: ClassVar[dict[str, str]] = {"*": MANAGE}

    @extend_schema(
        request=PaySerializer, responses={201: PaymentSerializer, 200: PaymentSerializer}
    )
    @action(detail=True, methods=["post"])
    def pay(self, request: Request, org_id: str, pk: str) -> Response:
        """Charge the invoice through its provider; the same key never charges twice."""
        invoice: Invoice = self.get_object()
        data = _data(PaySerializer, request)
        payment, created = billing.do_pay_invoice(
            self.membership, invoice, idempotency_key=data["idempotency_key"], token=data["token"]
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(PaymentSerializer(payment).data, status=code)


class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    queryset = Payment.objects.all()
    serializer_class = PaymentSerializer
    pagination_class = NewestFirstCursorPagination
    required_permissions: ClassVar[dict[str, str]] = {"*": MANAGE}


# --- partner routes -----------------------------------------------------------------------


def access_partner_finance(user: User, partner_id: Any) -> Partner:
    """Operators, and the partner's owners and finance members; others: 404 or 403."""
    if not user.is_authenticated:
        raise NotFound()
    if user.is_staff and user.is_active:
        partner = Partner.objects.filter(pk=as_id(partner_id)).first()
        if partner is None:
            raise NotFound(_("Partner not found."))
        return partner
    pm = (
        PartnerMember.objects.select_related("partner")
        .filter(partner_id=as_id(partner_id), user=user)
        .first()
    )
    if pm is None:
        raise NotFound(_("Partner not found."))
    if pm.role not in (PartnerMember.Role.OWNER, PartnerMember.Role.FINANCE):
        raise Forbidden(
            _("Only the partner's owners and finance members see its revenue."),
            code="permission_denied",
        )
    return pm.partner


def check_operator(user: User) -> None:
    if not (user.is_authenticated and user.is_staff and user.is_active):
        raise Forbidden(_("Only platform operators do this."), code="permission_denied")


class PartnerRevenueViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    queryset = LedgerEntry.objects.none()
    serializer_class = LedgerEntrySerializer
    pagination_class = None

    def _partner(self, partner_id: Any) -> Partner:
        return access_partner_finance(_user(self.request), partner_id)

    @extend_schema(responses=BalanceSerializer(many=True))
    def balance(self, request: Request, partner_id: str) -> Response:
        """What the platform owes the partner, per currency."""
        partner = self._partner(partner_id)
        balances = ledger.partner_balances(partner) or {partner.payout_currency: 0}
        return Response(
            [
                {"currency": c, "balance": v, "payout_minimum": ledger.payout_minimum(c)}
                for c, v in sorted(balances.items())
            ]
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=PaginatedLedgerEntrySerializer,
    )
    def entries(self, request: Request, partner_id: str) -> Response:
        """The partner's payable account, newest first (credits negative: money owed)."""
        partner = self._partner(partner_id)
        qs = LedgerEntry.objects.filter(
            account__kind="partner_payable", account__partner=partner
        ).select_related("transaction")
        paginator = NewestFirstCursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(LedgerEntrySerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("month", OpenApiTypes.DATE, description="regenerate")],
        responses=StatementSerializer(many=True),
    )
    def statements(self, request: Request, partner_id: str) -> Response:
        """Monthly statements; ``?month=YYYY-MM-01`` (re)generates that month first."""
        partner = self._partner(partner_id)
        raw = request.query_params.get("month")
        if raw:
            month = parse_day(raw) if len(raw) <= 10 else None
            if month is None:
                raise ValidationFailed(
                    _("Expected a date such as 2026-03-01."), fields={"month": [_("Invalid.")]}
                )
            ledger.do_generate_statements(partner, month)
        rows = PartnerStatement.objects.filter(partner=partner)[:120]
        return Response(StatementSerializer(rows, many=True).data)

    @extend_schema(responses=PayoutSerializer(many=True))
    def payouts(self, request: Request, partner_id: str) -> Response:
        partner = self._partner(partner_id)
        rows = Payout.objects.filter(partner=partner)[:200]
        return Response(PayoutSerializer(rows, many=True).data)

    @extend_schema(
        request=PayoutRequestSerializer,
        responses={201: PayoutSerializer, 200: PayoutSerializer},
    )
    def pay_out(self, request: Request, partner_id: str) -> Response:
        """Operators: pay the partner (at least the payout minimum, at most its balance)."""
        check_operator(_user(request))
        partner = self._partner(partner_id)
        data = _data(PayoutRequestSerializer, request)
        payout, created = ledger.do_payout(
            _user(request),
            partner,
            amount=data["amount"],
            currency=data["currency"],
            idempotency_key=data["idempotency_key"],
            reference=data.get("reference", ""),
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(PayoutSerializer(payout).data, status=code)


# --- operator routes ----------------------------------------------------------------------


def _parse_when(raw: Any) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    when = parse_moment(raw) if isinstance(raw, str) else None
    if when is None or when.tzinfo is None:
        raise ValidationFailed(
            _("Expected a date and time with a timezone."),
            fields={"effective_from": [_("Invalid.")]},
        )
    return when


class OperatorBillingViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    queryset = CommissionRate.objects.none()
    serializer_class = CommissionRateSerializer
    pagination_class = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        check_operator(_user(request))

    @extend_schema(responses=CommissionRateSerializer(many=True))
    def rates(self, request: Request) -> Response:
        return Response(
            CommissionRateSerializer(CommissionRate.objects.all()[:500], many=True).data
        )

    @extend_schema(request=CommissionRateSerializer, responses={201: CommissionRateSerializer})
    def set_rate(self, request: Request) -> Response:
        """A rate for an app, a partner or (neither) the default, from ``effective_from``
        (default now). Payments already booked keep their rate."""
        data = request.data if isinstance(request.data, dict) else {}
        app = partner = None
        if data.get("app") not in (None, ""):
            app = App.objects.filter(pk=as_id(data["app"])).first()
            if app is None:
                raise NotFound(_("App not found."))
        if data.get("partner") not in (None, ""):
            partner = Partner.objects.filter(pk=as_id(data["partner"])).first()
            if partner is None:
                raise NotFound(_("Partner not found."))
        rate = ledger.do_set_commission_rate(
            _user(request),
            rate=data.get("rate"),
            effective_from=_parse_when(data.get("effective_from")),
            partner=partner,
            app=app,
            note=str(data.get("note") or ""),
        )
        return Response(CommissionRateSerializer(rate).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=QuoteSerializer, responses={201: QuoteSerializer})
    def quote(self, request: Request) -> Response:
        """Enter an organisation's negotiated Exclusive or Proprietary price."""
        data = request.data if isinstance(request.data, dict) else {}
        org = Organization.objects.filter(pk=as_id(data.get("org"))).first()
        if org is None:
            raise NotFound(_("Organisation not found."))
        limit = data.get("member_limit", 500)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValidationFailed(_("Invalid member limit."), fields={"member_limit": ["!"]})
        quote = billing.do_create_quote(
            _user(request),
            org,
            edition=str(data.get("edition", "")),
            amount=data.get("amount"),
            currency=data.get("currency", "CNY"),
            interval=str(data.get("interval", "year")),
            member_limit=limit,
            note=str(data.get("note") or "")[:2000],
        )
        return Response(QuoteSerializer(quote).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ManualPaymentSerializer, responses={201: PaymentSerializer, 200: PaymentSerializer}
    )
    def record_payment(self, request: Request, pk: str) -> Response:
        """A bank transfer arrived for this invoice: mark it paid with the reference."""
        invoice = Invoice.objects.filter(pk=as_id(pk)).first()
        if invoice is None:
            raise NotFound(_("Invoice not found."))
        data = _data(ManualPaymentSerializer, request)
        payment, created = billing.do_record_manual_payment(
            _user(request),
            invoice,
            reference=data["reference"],
            idempotency_key=data["idempotency_key"],
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(PaymentSerializer(payment).data, status=code)

    @extend_schema(
        request=RefundRequestSerializer, responses={201: RefundSerializer, 200: RefundSerializer}
    )
    def refund(self, request: Request, pk: str) -> Response:
        """Refund all or part of a payment (never more than remains refundable: 400)."""
        payment = Payment.objects.filter(pk=as_id(pk)).first()
        if payment is None:
            raise NotFound(_("Payment not found."))
        data = _data(RefundRequestSerializer, request)
        refund, created = billing.do_refund(
            _user(request),
            payment,
            amount=data["amount"],
            idempotency_key=data["idempotency_key"],
            reason=data.get("reason", ""),
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(RefundSerializer(refund).data, status=code)


_overview = BillingOverviewViewSet.as_view({"get": "overview"})
_subs = SubscriptionViewSet.as_view({"get": "list", "post": "create"})
_sub = SubscriptionViewSet.as_view({"get": "retrieve"})
_revenue = PartnerRevenueViewSet
_ops = OperatorBillingViewSet

#: Included from ``marketplace.api.urls`` at the root of /api/v1/.
urlpatterns = [
    path("orgs/<int:org_id>/billing/", _overview, name="billing-overview"),
    path("orgs/<int:org_id>/billing/subscriptions/", _subs, name="billing-subscription-list"),
    path(
        "orgs/<int:org_id>/billing/subscriptions/<int:pk>/",
        _sub,
        name="billing-subscription-detail",
    ),
    path(
        "orgs/<int:org_id>/billing/subscriptions/<int:pk>/change-plan/",
        SubscriptionViewSet.as_view({"post": "change_plan"}),
        name="billing-subscription-change-plan",
    ),
    path(
        "orgs/<int:org_id>/billing/subscriptions/<int:pk>/cancel/",
        SubscriptionViewSet.as_view({"post": "cancel"}),
        name="billing-subscription-cancel",
    ),
    path(
        "orgs/<int:org_id>/billing/subscriptions/<int:pk>/resume/",
        SubscriptionViewSet.as_view({"post": "resume"}),
        name="billing-subscription-resume",
    ),
    path(
        "orgs/<int:org_id>/billing/invoices/",
        InvoiceViewSet.as_view({"get": "list"}),
        name="billing-invoice-list",
    ),
    path(
        "orgs/<int:org_id>/billing/invoices/<int:pk>/",
        InvoiceViewSet.as_view({"get": "retrieve"}),
        name="billing-invoice-detail",
    ),
    path(
        "orgs/<int:org_id>/billing/invoices/<int:pk>/pay/",
        InvoiceViewSet.as_view({"post": "pay"}),
        name="billing-invoice-pay",
    ),
    path(
        "orgs/<int:org_id>/billing/payments/",
        PaymentViewSet.as_view({"get": "list"}),
        name="billing-payment-list",
    ),
    path(
        "orgs/<int:org_id>/billing/payments/<int:pk>/",
        PaymentViewSet.as_view({"get": "retrieve"}),
        name="billing-payment-detail",
    ),
    path(
        "partners/<int:partner_id>/balance/",
        _revenue.as_view({"get": "balance"}),
        name="partner-revenue-balance",
    ),
    path(
        "partners/<int:partner_id>/ledger/",
        _revenue.as_view({"get": "entries"}),
        name="partner-revenue-ledger",
    ),
    path(
        "partners/<int:partner_id>/statements/",
        _revenue.as_view({"get": "statements"}),
        name="partner-revenue-statements",
    ),
    path(
        "partners/<int:partner_id>/payouts/",
        _revenue.as_view({"get": "payouts", "post": "pay_out"}),
        name="partner-revenue-payouts",
    ),
    path(
        "marketplace/billing/commission-rates/",
        _ops.as_view({"get": "rates", "post": "set_rate"}),
        name="billing-operator-rates",
    ),
    path(
        "marketplace/billing/quotes/",
        _ops.as_view({"post": "quote"}),
        name="billing-operator-quotes",
    ),
    path(
        "marketplace/billing/invoices/<int:pk>/record-payment/",
        _ops.as_view({"post": "record_payment"}),
        name="billing-operator-record-payment",
    ),
    path(
        "marketplace/billing/payments/<int:pk>/refund/",
        _ops.as_view({"post": "refund"}),
        name="billing-operator-refund",
    ),
]
