"""RFC 9457 problem documents: the one error shape every service returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FieldError(BaseModel):
    """One bad field of a request."""

    location: str = Field(description="Where the field is: body, query, path or header.")
    field: str = Field(description="Dotted path of the field, e.g. members.0.resident_id.")
    message: str
    code: str = Field(description="Machine-readable reason, e.g. missing, value_error.")


class Problem(BaseModel):
    """``application/problem+json`` body (RFC 9457) with Tuopin's extensions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/validation",
                    "title": "The request is not valid",
                    "status": 422,
                    "detail": "1 field is not valid",
                    "instance": "/v1/households",
                    "request_id": "6f1c2b0e9d8a4c3b",
                    "errors": [
                        {
                            "location": "body",
                            "field": "members.0.resident_id",
                            "message": "check character should be 'X', got '3'",
                            "code": "value_error",
                        }
                    ],
                }
            ]
        }
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
