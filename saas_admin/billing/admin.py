from django.contrib import admin
from django.http import HttpRequest

from billing.models import Invoice, InvoiceLine, LicenseUpdate, Plan, Product, Subscription


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ["code", "name", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ["product", "name", "code", "price", "currency", "interval", "trial_days"]
    list_filter = ["product", "interval", "is_active"]
    search_fields = ["name", "code", "product__name"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin[Subscription]):
    list_display = [
        "organization",
        "plan",
        "status",
        "current_period_end",
        "cancel_at_period_end",
    ]
    list_filter = ["status", "product", "cancel_at_period_end"]
    search_fields = ["organization__name", "organization__id", "plan__name"]
    # Status changes go through billing.services (checked transitions), not free edits.
    readonly_fields = [
        "id",
        "organization",
        "product",
        "plan",
        "status",
        "trial_end",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "ended_at",
        "created_at",
        "updated_at",
    ]


class InvoiceLineInline(admin.TabularInline[InvoiceLine, Invoice]):
    model = InvoiceLine
    extra = 0
    readonly_fields = ["description", "quantity", "unit_price", "amount"]
    can_delete = False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin[Invoice]):
    list_display = ["number", "organization", "status", "total", "currency", "issued_at"]
    list_filter = ["status", "currency"]
    search_fields = ["number", "organization__name"]
    readonly_fields = [
        "number",
        "organization",
        "subscription",
        "currency",
        "subtotal",
        "tax",
        "total",
        "period_start",
        "period_end",
        "issued_at",
    ]
    inlines = [InvoiceLineInline]


@admin.register(LicenseUpdate)
class LicenseUpdateAdmin(admin.ModelAdmin[LicenseUpdate]):
    """The license outbox: what reached the auth server, what waits, what was refused."""

    list_display = [
        "id",
        "organization",
        "product_code",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "failed_at",
    ]
    list_filter = ["status", "product_code"]
    search_fields = ["organization__name", "organization__id"]
    readonly_fields = [f.name for f in LicenseUpdate._meta.get_fields()]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
