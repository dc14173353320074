"""Request bodies of the HTTP API, camelCase on the wire."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator
from pydantic.alias_generators import to_camel

from auth_server.accounts import SignupRequest
from auth_server.memberships import Role


class Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True
    )


# Long enough for any real password, short enough that hashing it is no denial of service.
Password = Field(min_length=1, max_length=1024)
# Most product codes a sign-up may name: more than any catalogue holds, few enough that the
# per-code checks (and the "Unknown product" errors echoed back) stay small.
MAX_SIGNUP_PRODUCTS = 20


class SignupBody(Body):
    email: EmailStr
    password: str = Password
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    # Required unless the account joins an organization by invitation.
    company: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    products: list[str] = Field(default_factory=list, max_length=MAX_SIGNUP_PRODUCTS)
    # An e-mailed invitation: the account joins that organization instead of creating one.
    invitation_token: str | None = Field(default=None, min_length=1, max_length=512)

    def request(self, locale: str) -> SignupRequest:
        """The domain's request; `locale` is the language of the verification mail."""
        return SignupRequest(
            email=self.email,
            password=self.password,
            first_name=self.first_name,
            last_name=self.last_name,
            company=self.company,
            phone=self.phone or None,
            products=self.products,
            locale=locale,
        )


class VerifyEmailBody(Body):
    email: EmailStr
    code: str = Field(min_length=1, max_length=32)


class EmailBody(Body):
    email: EmailStr


class LoginBody(Body):
    email: EmailStr
    password: str = Password


class RefreshTokenBody(Body):
    refresh_token: str = Field(min_length=1, max_length=512)


class ResetPasswordBody(Body):
    token: str = Field(min_length=1, max_length=512)
    password: str = Password


class DeleteAccountBody(Body):
    password: str = Password


class ChangePasswordBody(Body):
    current_password: str = Password
    new_password: str = Password


class OrganizationBody(Body):
    name: str = Field(min_length=1, max_length=200)


class OrganizationSettingsBody(Body):
    # Members must use MFA: those without a second factor enrol at their next sign-in.
    mfa_required: bool = Field(strict=True)


class SwitchOrganizationBody(Body):
    organization_id: uuid.UUID


class InvitationBody(Body):
    email: EmailStr
    role: Role = Role.MEMBER


class RoleBody(Body):
    role: Role


class InvitationTokenBody(Body):
    token: str = Field(min_length=1, max_length=512)


# -- multi-factor authentication -----------------------------------------------------------

# Six digits, as authenticator apps show them (spaces around are stripped).
TOTP_CODE = r"^[0-9]{6}$"


class MfaVerifyBody(Body):
    mfa_token: str = Field(min_length=1, max_length=512)
    code: str | None = Field(default=None, pattern=TOTP_CODE)
    # As printed (XXXX-XXXX-XXXX-XXXX); case, spaces and dashes do not matter.
    recovery_code: str | None = Field(default=None, min_length=1, max_length=64)
    # A passkey's answer to POST /api/auth/mfa/webauthn/options (WebAuthn's JSON form).
    webauthn: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_factor(self) -> MfaVerifyBody:
        given = (self.code, self.recovery_code, self.webauthn)
        if sum(factor is not None for factor in given) != 1:
            raise ValueError("give one of code, recoveryCode or webauthn")
        return self


class MfaSetupBody(Body):
    # The login's mfaToken when an organization's policy sends the user to enrol;
    # without it the Bearer token says who enrols.
    mfa_token: str | None = Field(default=None, min_length=1, max_length=512)


class MfaConfirmBody(Body):
    code: str = Field(pattern=TOTP_CODE)
    mfa_token: str | None = Field(default=None, min_length=1, max_length=512)


class MfaProofBody(Body):
    """Authorizes a sensitive change: the current password or a code from the app."""

    password: str | None = Field(default=None, min_length=1, max_length=1024)
    code: str | None = Field(default=None, pattern=TOTP_CODE)

    @model_validator(mode="after")
    def _one_proof(self) -> MfaProofBody:
        if (self.password is None) == (self.code is None):
            raise ValueError("give either password or code")
        return self
