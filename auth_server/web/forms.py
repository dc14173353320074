"""Form posts of the hosted pages checked by the JSON API's own request models, so a page
accepts exactly what the API accepts and reports problems per field alike."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from auth_server.api.envelope import field_errors
from auth_server.errors import ValidationFailed

Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], fields: dict[str, Any]) -> Model:
    """The form's fields (wire names) as `model`; ValidationFailed with per-field errors."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise ValidationFailed(errors=field_errors(exc.errors())) from None
