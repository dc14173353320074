"""Response models of the organization endpoints: what the API docs show they return."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from auth_server.memberships import Role

Data = TypeVar("Data")


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Envelope(BaseModel, Generic[Data]):
    """The contract's success envelope."""

    success: Literal[True]
    data: Data


class OrganizationOut(Out):
    id: str
    name: str
    slug: str
    role: Role
    active: bool


class OrganizationsOut(Out):
    organizations: list[OrganizationOut]


class SwitchedOut(Out):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    organization: OrganizationOut


class MemberOut(Out):
    user_id: str
    email: str
    first_name: str
    last_name: str
    role: Role
    joined_at: str


class MembersOut(Out):
    members: list[MemberOut]


class InvitationOut(Out):
    id: str
    email: str
    role: Role
    created_at: str
    expires_at: str


class InvitationsOut(Out):
    invitations: list[InvitationOut]


class RemovedOut(Out):
    user_id: str
    organization_id: str
    outcome: Literal["removed", "left"]


class WithdrawnOut(Out):
    id: str
    withdrawn: Literal[True]
