"""Request bodies of the HTTP API, camelCase on the wire."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field
from pydantic.alias_generators import to_camel

from auth_server.accounts import SignupRequest


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
    company: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    products: list[str] = Field(default_factory=list, max_length=20)

    def request(self) -> SignupRequest:
        return SignupRequest(
            email=self.email,
            password=self.password,
            first_name=self.first_name,
            last_name=self.last_name,
            company=self.company,
            phone=self.phone or None,
            products=self.products,
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
