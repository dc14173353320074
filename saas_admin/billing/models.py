"""Products, plans, subscriptions and invoices."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from organizations.models import Organization

currency_code = RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code such as USD")


class Product(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Interval(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    YEARLY = "yearly", "Yearly"


class Plan(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="USD", validators=[currency_code])
    interval = models.CharField(max_length=10, choices=Interval.choices)
    trial_days = models.PositiveIntegerField(default=14)
    max_users = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product__name", "price"]
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="unique_plan_code")]

    def __str__(self) -> str:
        return f"{self.product.name} {self.name} ({self.price} {self.currency}/{self.interval})"


class Status(models.TextChoices):
    TRIAL = "trial", "Trial"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


LIVE_STATUSES = (Status.TRIAL, Status.ACTIVE, Status.PAST_DUE)
# Statuses that let an organization use the product.
GRANTING_STATUSES = (Status.TRIAL, Status.ACTIVE)


class Subscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="subscriptions"
    )
    # Denormalized from the plan so the database can hold one live subscription per product.
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=20, choices=Status.choices)
    trial_end = models.DateTimeField(null=True, blank=True)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    cancel_at_period_end = models.BooleanField(default=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "product"],
                condition=models.Q(status__in=LIVE_STATUSES),
                name="one_live_subscription_per_product",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} / {self.plan} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def renews(self) -> bool:
        """An active subscription not cancelled: its period end starts the next period."""
        return self.status == Status.ACTIVE and not self.cancel_at_period_end

    def status_at(self, now: datetime) -> str:
        """The status as `advance` would leave it at `now`: a live subscription whose period
        has ended is expired even before the scheduler has run (a trial never outlives its
        end); a renewing one stays active."""
        if self.is_live and self.current_period_end <= now and not self.renews:
            return Status.EXPIRED
        return self.status

    def grants_access(self, now: datetime) -> bool:
        return self.status_at(now) in GRANTING_STATUSES


class InvoiceStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class Invoice(models.Model):
    number = models.CharField(max_length=40, unique=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="invoices"
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="invoices"
    )
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN
    )
    currency = models.CharField(max_length=3, validators=[currency_code])
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(max_digits=12, decimal_places=2)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return self.description


class LicenseUpdate(models.Model):
    """The outbox: a license change for the auth server, written in the same transaction as
    the subscription change, delivered by `manage.py deliver_outbox`. Its id is the
    license's version at the auth server, so an older update never overwrites a newer one."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="license_updates"
    )
    product_code = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=Status.choices)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The plan's max users: the auth server refuses a member beyond them. Null: unlimited.
    seats = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Set when the auth server refused the update for good (a 4xx); it is not retried.
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["organization", "id"],
                condition=models.Q(delivered_at__isnull=True, failed_at__isnull=True),
                name="license_update_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.product_code}={self.status} (v{self.pk})"
