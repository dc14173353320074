"""Plans, an organization's subscriptions and invoices, and the subscription check."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import services
from billing.models import Invoice, Plan, Subscription
from billing.serializers import (
    CancelSerializer,
    ChangePlanSerializer,
    InvoiceSerializer,
    NewSubscriptionSerializer,
    PlanSerializer,
    SubscriptionCheckSerializer,
    SubscriptionSerializer,
)
from organizations.access import organization_or_404, require_manager, require_member
from organizations.models import Organization


class PlanListView(generics.ListAPIView[Plan]):
    """Public price list: active plans of active products."""

    permission_classes = [AllowAny]
    serializer_class = PlanSerializer
    filterset_fields = {"product__code": ["exact"], "interval": ["exact"]}
    ordering_fields = ["price", "name"]

    def get_queryset(self) -> QuerySet[Plan]:
        return Plan.objects.filter(is_active=True, product__is_active=True).select_related(
            "product"
        )


SUBSCRIPTION_RESPONSE = inline_serializer(
    "SubscriptionEnvelope",
    {"success": serializers.BooleanField(), "subscription": SubscriptionSerializer()},
)


def _plan(plan_id: int) -> Plan:
    plan = Plan.objects.select_related("product").filter(pk=plan_id).first()
    if plan is None:
        raise NotFound("Plan not found")
    return plan


def _subscription_json(subscription: Subscription, code: int = 200) -> Response:
    data = SubscriptionSerializer(subscription).data
    return Response({"success": True, "subscription": data}, status=code)


class SubscriptionListView(generics.ListCreateAPIView[Subscription]):
    """GET: the organization's subscriptions (members). POST: start a trial or subscribe."""

    serializer_class = SubscriptionSerializer
    filterset_fields = ["status", "product__code"]
    ordering_fields = ["created_at", "current_period_end"]

    def organization(self) -> Organization:
        return organization_or_404(self.kwargs["organization_id"])

    def get_queryset(self) -> QuerySet[Subscription]:
        if getattr(self, "swagger_fake_view", False):  # schema generation, no request user
            return Subscription.objects.none()
        organization = self.organization()
        require_member(self.request.user, organization)
        return organization.subscriptions.select_related("plan__product", "product")

    @extend_schema(request=NewSubscriptionSerializer, responses={201: SUBSCRIPTION_RESPONSE})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        organization = self.organization()
        require_manager(request.user, organization)
        body = NewSubscriptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = _plan(body.validated_data["planId"])
        start = services.start_trial if body.validated_data["trial"] else services.subscribe
        return _subscription_json(start(organization, plan), status.HTTP_201_CREATED)


def _cancel(request: Request, subscription: Subscription) -> Subscription:
    body = CancelSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return services.cancel(subscription, at_period_end=body.validated_data["atPeriodEnd"])


def _change_plan(request: Request, subscription: Subscription) -> Subscription:
    body = ChangePlanSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return services.change_plan(subscription, _plan(body.validated_data["planId"]))


def _activate(_request: Request, subscription: Subscription) -> Subscription:
    return services.activate(subscription)


SUBSCRIPTION_ACTIONS: dict[str, Callable[[Request, Subscription], Subscription]] = {
    "cancel": _cancel,
    "change-plan": _change_plan,
    "activate": _activate,
}


class SubscriptionActionView(APIView):
    """POST .../subscriptions/{id}/{cancel|change-plan|activate}: owners, admins, staff."""

    @extend_schema(
        operation_id="subscription_action",
        request=ChangePlanSerializer,
        responses=SUBSCRIPTION_RESPONSE,
        description="cancel (body: atPeriodEnd), change-plan (body: planId) or activate.",
    )
    def post(
        self, request: Request, organization_id: str, subscription_id: str, action: str
    ) -> Response:
        perform = SUBSCRIPTION_ACTIONS.get(action)
        organization = organization_or_404(organization_id)
        if perform is None:
            raise NotFound("No such action")
        require_manager(request.user, organization)
        subscription = organization.subscriptions.filter(pk=_uuid_or_404(subscription_id)).first()
        if subscription is None:
            raise NotFound("Subscription not found")
        return _subscription_json(perform(request, subscription))


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("Subscription not found") from None


class InvoiceListView(generics.ListAPIView[Invoice]):
    serializer_class = InvoiceSerializer
    filterset_fields = ["status"]
    ordering_fields = ["issued_at", "total"]

    def get_queryset(self) -> QuerySet[Invoice]:
        if getattr(self, "swagger_fake_view", False):
            return Invoice.objects.none()
        organization = organization_or_404(self.kwargs["organization_id"])
        require_member(self.request.user, organization)
        return organization.invoices.prefetch_related("lines")


class SubscriptionCheckView(APIView):
    """May this organization use this product? For other products to ask (members, staff)."""

    @extend_schema(
        parameters=[SubscriptionCheckSerializer],
        responses=inline_serializer(
            "SubscriptionCheck",
            {
                "success": serializers.BooleanField(),
                "hasActiveSubscription": serializers.BooleanField(),
                "status": serializers.CharField(allow_null=True),
                "plan": serializers.DictField(allow_null=True),
                "expiresAt": serializers.DateTimeField(allow_null=True),
                "seats": inline_serializer(
                    "Seats",
                    {
                        "used": serializers.IntegerField(),
                        "total": serializers.IntegerField(allow_null=True),
                    },
                ),
            },
        ),
        description="`seats`: `used` are the organization's members (as mirrored here), "
        "`total` the plan's max users (null: unlimited, or no subscription).",
    )
    def get(self, request: Request) -> Response:
        query = SubscriptionCheckSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization = organization_or_404(query.validated_data["organizationId"])
        require_member(request.user, organization)
        subscription = (
            organization.subscriptions.filter(product__code=query.validated_data["productCode"])
            .select_related("plan")
            .order_by("-created_at")
            .first()
        )
        now = timezone.now()
        if subscription is None:
            body: dict[str, Any] = {"status": None, "plan": None, "expiresAt": None}
        else:
            body = {
                # As of now, not as of the last scheduler run: an ended trial is expired.
                "status": subscription.status_at(now),
                "plan": {"code": subscription.plan.code, "name": subscription.plan.name},
                "expiresAt": serializers.DateTimeField().to_representation(
                    subscription.current_period_end
                    if subscription.is_live
                    else subscription.ended_at or subscription.current_period_end
                ),
            }
        granted = subscription is not None and subscription.grants_access(now)
        seats = {
            "used": organization.memberships.count(),
            "total": subscription.plan.max_users if subscription is not None else None,
        }
        return Response({"success": True, "hasActiveSubscription": granted, **body, "seats": seats})
