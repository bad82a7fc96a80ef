"""The OpenAPI 3.1 document of both APIs, built from the files in schemas/."""

from __future__ import annotations

import json
from typing import Any

from . import __version__
from .schemafiles import load_schema
from .settings import MASIVO_BASE_PATH

ERROR = {"$ref": "#/components/schemas/Error"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _hoist(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move `$defs` into components and point `#/$defs/X` references there."""
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
    hoisted: dict[str, Any] = json.loads(text)
    return hoisted


def _errors(*statuses: int) -> dict[str, Any]:
    titles = {400: "Invalid JSON", 401: "Missing or invalid credentials", 404: "Not found",
              408: "The body did not arrive in time", 413: "Body too large", 415: "Body is not JSON",
              422: "Invalid customer entry or parameter", 503: "Storage unavailable", 507: "Insufficient storage"}
    return {str(status): {"description": titles[status], "content": {"application/json": {"schema": ERROR}}}
            for status in statuses}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["data", "total"],
            "properties": {"data": {"type": "array", "items": item}, "total": {"type": "integer"}}}


PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "account", "in": "query", "schema": {"type": "string"}},
]


def _masivo_paths() -> dict[str, Any]:
    authorize = {"get": {
        "summary": "Exchange an API key for a JWT (HS256; claims sub, iat, exp)",
        "security": [{"apiKey": []}],
        "responses": {"200": _json({"type": "object", "required": ["data"],
                                    "properties": {"data": {"type": "string"}}}, "The token"), **_errors(401)},
    }}
    migrate = {"post": {
        "summary": "Migrate customers' historical events",
        "security": BEARER,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/MigrateEventsRequest"}}}},
        "responses": {
            "201": {"description": "Customer events enqueued successfully",
                    "headers": {"X-Mock-Batch-Id": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}}},
            **_errors(400, 401, 408, 413, 415, 422, 503, 507),
        },
    }}
    paths = {}
    for prefix in ("", MASIVO_BASE_PATH):
        paths[f"{prefix}/auth/authorize"] = authorize
        paths[f"{prefix}/customers/migrate/events"] = migrate
    return paths


def _inspection_paths() -> dict[str, Any]:
    stored = {"$ref": "#/components/schemas/StoredEvent"}
    anything = {"type": "object"}
    return {
        "/_mock/health": {"get": {"summary": "Liveness and event count", "responses": {"200": _json(anything, "ok")}}},
        "/_mock/events": {"get": {
            "summary": "Stored events in receipt order",
            "parameters": PAGING + [{"name": name, "in": "query", "schema": {"type": "string"}}
                                    for name in ("customer_id", "type", "batch_id", "purchase_id", "status")],
            "responses": {"200": _json(_listing(stored), "A page of events"), **_errors(422)}}},
        "/_mock/events/{event_id}": {"get": {
            "parameters": [{"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object", "properties": {"data": stored}}, "The event"),
                          **_errors(404)}}},
        "/_mock/customers": {"get": {"parameters": PAGING,
                                     "responses": {"200": _json(_listing(anything), "Customers"), **_errors(422)}}},
        "/_mock/customers/{customer_id}": {"get": {
            "parameters": [{"name": "customer_id", "in": "path", "required": True, "schema": {"type": "string"}},
                           PAGING[2]],
            "responses": {"200": _json(anything, "The customer, its events and metrics"), **_errors(404)}}},
        "/_mock/batches": {"get": {"parameters": PAGING,
                                   "responses": {"200": _json(_listing(anything), "Batches"), **_errors(422)}}},
        "/_mock/requests": {"get": {
            "parameters": [*PAGING, {"name": "status", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": _json(_listing(anything), "The request journal"), **_errors(422)}}},
        "/_mock/accounts": {"post": {"responses": {"201": _json(anything, "A new account")}}},
        "/_mock/reset": {"post": {"parameters": [PAGING[2]],
                                  "responses": {"200": _json(anything, "Counts removed"), **_errors(404)}}},
    }


def build_openapi() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for name, file in (("MigrateEventsRequest", "migrate-events.request.json"), ("Error", "error.json"),
                       ("StoredEvent", "stored-event.json")):
        components[name] = _hoist(load_schema(file), components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "mock-masivo", "version": __version__,
                 "description": "Masivo's migrate-events API as mock-masivo serves it, and its /_mock inspection API."},
        "paths": {**_masivo_paths(), **_inspection_paths()},
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}},
    }
