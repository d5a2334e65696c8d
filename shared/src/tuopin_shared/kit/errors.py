"""Domain errors and the handlers that turn every error into an RFC 9457 problem document."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuopin_shared.contracts.problems import FieldError, Problem

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("tuopin.errors")


class TuopinError(Exception):
    """Base of every error a service raises on purpose; carries its problem document."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers
        self.extensions = extensions


class NotFound(TuopinError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(TuopinError):
    status, slug, title = 409, "conflict", "Conflict"


class Unprocessable(TuopinError):
    status, slug, title = 422, "unprocessable", "The request cannot be carried out"


class Unauthorized(TuopinError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(TuopinError):
    status, slug, title = 403, "forbidden", "Not allowed"


class PreconditionFailed(TuopinError):
    status, slug, title = 412, "precondition-failed", "The resource has changed"


class PreconditionRequired(TuopinError):
    status, slug, title = 428, "precondition-required", "If-Match header required"


def field_error(
    field: str, message: str, code: str = "value_error", location: str = "body"
) -> FieldError:
    return FieldError(location=location, field=field, message=message, code=code)


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    slug: str | None = None,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"/problems/{slug}" if slug else "about:blank",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=errors or [],
    )
    body = problem.model_dump(mode="json")
    body.update(extensions or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _location_and_field(loc: tuple[Any, ...]) -> tuple[str, str]:
    if not loc:
        return "body", ""
    location = str(loc[0])
    rest = [str(part) for part in loc[1:]]
    return location, ".".join(rest)


async def _tuopin_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TuopinError)
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        slug=exc.slug,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        location, field = _location_and_field(tuple(error.get("loc", ())))
        message = str(error.get("msg", "invalid"))
        # pydantic prefixes messages of ValueError validators; the field says enough.
        message = message.removeprefix("Value error, ")
        errors.append(
            FieldError(location=location, field=field, message=message, code=str(error.get("type")))
        )
    count = len(errors)
    return problem_response(
        request,
        status=422,
        title="The request is not valid",
        slug="validation",
        detail=f"{count} field{'s are' if count != 1 else ' is'} not valid",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    from http import HTTPStatus

    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(
        request,
        status=exc.status_code,
        title=title,
        detail=detail,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not bad input: log it whole, answer 500 without internals.
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        request,
        status=500,
        title="Internal server error",
        detail="The error was logged; quote the request id when reporting it.",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TuopinError, _tuopin_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


# The responses every route may give, for OpenAPI.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or invalid bearer token"},
    403: {"model": Problem, "description": "The caller's role may not do this"},
    422: {"model": Problem, "description": "A field is not valid; `errors` names each one"},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        404: "Not found, or outside the caller's division",
        409: "Conflicts with existing data",
        412: "If-Match does not match the current ETag",
        428: "If-Match header is required",
    }
    out = dict(COMMON_ERROR_RESPONSES)
    for status in statuses:
        out[status] = {"model": Problem, "description": descriptions.get(status, "Error")}
    for entry in out.values():
        entry.setdefault("content", {PROBLEM_JSON: {}})
    return out
