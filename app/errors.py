"""The one place where refusals become HTTP: `code` -> status, body `application/problem+json`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from actors import ResidentError
from policies import PolicyError

PROBLEM = "application/problem+json"

STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "untrusted_issuer": 403,
    "untrusted_successor": 403,
    "untrusted_host": 403,
    "not_found": 404,
    "unknown_command": 404,
    "conflict": 409,
    "rollback": 409,
    "moved": 409,
    "effects_pending": 409,
    "policy_too_large": 413,
    "body_too_large": 413,
    "bundle_too_large": 413,
    "data_too_large": 413,
    "rate_limited": 429,
    "invalid_policy": 422,
    "unsigned_policy": 422,
    "invalid_signature": 422,
    "policy_expired": 422,
    "policy_not_yet_valid": 422,
    "object_not_governed": 422,
    "invalid_params": 422,
    "number_out_of_range": 422,
    "invalid_data": 422,
    "invalid_config": 422,
    "lineage_broken": 422,
    "invalid_bundle": 422,
    "data_mismatch": 422,
    "policy_mismatch": 422,
    "invalid_host_signature": 422,
    "replay_mismatch": 422,
    "invalid_entry_signature": 422,
    "too_deep": 422,
    "idempotency_key_reused": 422,
    "unavailable": 503,
}


def problem(code: str, detail: str, *, status: int | None = None, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem document carrying Resident's stable `code`."""
    status = status or STATUS_BY_CODE.get(code, 400)
    body = {
        "type": f"urn:resident:problem:{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class ApiError(Exception):
    """Raised by routes for refusals decided at the edge (body size, media type)."""

    def __init__(self, code: str, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = headers or {}


def install_error_handlers(app: FastAPI) -> None:
    async def on_resident(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ResidentError)
        return problem(exc.code, exc.message, **exc.details)

    async def on_api(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        response = problem(exc.code, exc.detail)
        response.headers.update(exc.headers)
        return response

    async def on_policy(_: Request, exc: Exception) -> JSONResponse:
        """Engine checks the app runs itself (JSON depth at the edge) keep their codes."""
        assert isinstance(exc, PolicyError)
        return problem(exc.code, exc.message)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return problem("invalid_request", "the request does not match the API", errors=errors)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(code, str(exc.detail), status=exc.status_code)

    app.add_exception_handler(ResidentError, on_resident)
    app.add_exception_handler(ApiError, on_api)
    app.add_exception_handler(PolicyError, on_policy)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
