"""Request bodies of the HTTP API, camelCase on the wire."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from pydantic.alias_generators import to_camel

from auth_server.memberships import Role


class Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True
    )


# Long enough for any real password, short enough that hashing it is no denial of service.
Password = Field(min_length=1, max_length=1024)


class SignupBody(Body):
    email: EmailStr
    password: str = Password
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    # Required unless the account joins an organization by invitation.
    company: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    products: list[str] = Field(default_factory=list, max_length=20)
    # An e-mailed invitation: the account joins that organization instead of creating one.
    invitation_token: str | None = Field(default=None, min_length=1, max_length=512)


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


class SwitchOrganizationBody(Body):
    organization_id: uuid.UUID


class InvitationBody(Body):
    email: EmailStr
    role: Role = Role.MEMBER


class RoleBody(Body):
    role: Role


class InvitationTokenBody(Body):
    token: str = Field(min_length=1, max_length=512)
