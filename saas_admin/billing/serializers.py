from __future__ import annotations

from rest_framework import serializers

from billing.models import Invoice, InvoiceLine, Plan, Product, Subscription


class PlanSerializer(serializers.ModelSerializer[Plan]):
    product: serializers.SlugRelatedField[Product] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    productName = serializers.CharField(source="product.name", read_only=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    trialDays = serializers.IntegerField(source="trial_days", read_only=True)
    maxUsers = serializers.IntegerField(source="max_users", read_only=True)

    class Meta:
        model = Plan
        fields = [
            "id",
            "product",
            "productName",
            "code",
            "name",
            "price",
            "currency",
            "interval",
            "trialDays",
            "maxUsers",
        ]


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    organizationId = serializers.UUIDField(source="organization_id", read_only=True)
    product: serializers.SlugRelatedField[Product] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    plan = PlanSerializer(read_only=True)
    trialEnd = serializers.DateTimeField(source="trial_end", read_only=True)
    currentPeriodStart = serializers.DateTimeField(source="current_period_start", read_only=True)
    currentPeriodEnd = serializers.DateTimeField(source="current_period_end", read_only=True)
    cancelAtPeriodEnd = serializers.BooleanField(source="cancel_at_period_end", read_only=True)
    endedAt = serializers.DateTimeField(source="ended_at", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "organizationId",
            "product",
            "plan",
            "status",
            "trialEnd",
            "currentPeriodStart",
            "currentPeriodEnd",
            "cancelAtPeriodEnd",
            "endedAt",
            "createdAt",
        ]


class InvoiceLineSerializer(serializers.ModelSerializer[InvoiceLine]):
    unitPrice = serializers.DecimalField(
        source="unit_price", max_digits=12, decimal_places=2, read_only=True
    )

    class Meta:
        model = InvoiceLine
        fields = ["description", "quantity", "unitPrice", "amount"]


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    subscriptionId = serializers.UUIDField(source="subscription_id", read_only=True)
    periodStart = serializers.DateTimeField(source="period_start", read_only=True)
    periodEnd = serializers.DateTimeField(source="period_end", read_only=True)
    issuedAt = serializers.DateTimeField(source="issued_at", read_only=True)
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "number",
            "subscriptionId",
            "status",
            "currency",
            "subtotal",
            "tax",
            "total",
            "periodStart",
            "periodEnd",
            "issuedAt",
            "lines",
        ]


class NewSubscriptionSerializer(serializers.Serializer[None]):
    planId = serializers.IntegerField(min_value=1)
    trial = serializers.BooleanField(default=True)


class ChangePlanSerializer(serializers.Serializer[None]):
    planId = serializers.IntegerField(min_value=1)


class CancelSerializer(serializers.Serializer[None]):
    atPeriodEnd = serializers.BooleanField(default=True)


class SubscriptionCheckSerializer(serializers.Serializer[None]):
    organizationId = serializers.CharField(max_length=64)
    productCode = serializers.SlugField(max_length=50)
