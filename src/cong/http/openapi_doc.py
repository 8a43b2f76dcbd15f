"""``/api/openapi.json``: FastAPI's document of the management API, plus the endpoints
``http.front`` serves outside FastAPI (``/v1``, ``/api/files``, the web chat's
``/api/chat/completions``) with their request bodies, and the two ways to authenticate
(an API key, or the web session cookie + CSRF header)."""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from cong.http.client_address import SESSION_COOKIE
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.completions import CompletionRequest, EmbeddingRequest
from cong.protocol.images import ImageRequest

REFERENCE = "https://platform.openai.com/docs/api-reference"
REF = "#/components/schemas/{model}"
# Operations anyone may call, signed in or not.
PUBLIC = {
    ("/api/health", "get"),
    ("/api/status", "get"),
    ("/api/session", "get"),
    ("/api/session", "post"),
    ("/api/session/register", "post"),
}


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEnvelope(BaseModel):
    """Every error, on /v1 and /api alike (OpenAI's envelope)."""

    error: ErrorBody


class ModelPricing(BaseModel):
    """Currency units per token / request / image for the caller's group (OpenRouter
    style), as decimal strings."""

    prompt: str
    completion: str
    input_cache_read: str
    request: str
    image: str


class V1Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    context_length: int | None = Field(description="tokens; null when unknown")
    pricing: ModelPricing | None = Field(description="null: the model has no price")
    capabilities: list[str] = Field(
        description="among chat, tools, vision, json, reasoning, embeddings, images"
    )


class V1ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[V1Model]


class ConversationChatRequest(ChatCompletionRequest):
    """OpenAI's chat request, plus the conversation to continue (OpenAI SDKs send it
    through ``extra_body``)."""

    conversation_id: str | None = Field(
        None,
        description="Continue this conversation (as the X-Conversation-Id header): send only "
        "the new message(s), the earlier turns are put in front of them",
    )


# path, method, summary, request model, response model, streams
_V1: tuple[tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None, bool], ...] = (
    ("/v1/chat/completions", "post", "Chat completion", ConversationChatRequest, None, True),
    ("/v1/completions", "post", "Text completion (legacy)", CompletionRequest, None, True),
    ("/v1/embeddings", "post", "Embeddings", EmbeddingRequest, None, False),
    ("/v1/images/generations", "post", "Image generation", ImageRequest, None, False),
    ("/v1/models", "get", "The models this key may call", None, V1ModelList, False),
    ("/v1/models/{model}", "get", "One model", None, V1Model, False),
    ("/v1/messages", "post", "Anthropic Messages, for any model", None, None, True),
    ("/v1/messages/count_tokens", "post", "Anthropic token count (an estimate)", None, None, False),
    ("/v1/responses", "post", "OpenAI Responses, for any model", None, None, True),
    ("/v1/responses/{response_id}", "get", "A stored response", None, None, False),
    ("/v1/responses/{response_id}", "delete", "Delete a stored response", None, None, False),
    ("/v1/responses/{response_id}/input_items", "get", "A response's input", None, None, False),
    ("/v1/files", "post", "Upload a file (multipart: file, purpose)", None, None, False),
    ("/v1/files", "get", "The caller's files", None, None, False),
    ("/v1/files/{file_id}", "get", "One of the caller's files", None, None, False),
    ("/v1/files/{file_id}", "delete", "Delete a file", None, None, False),
    ("/v1/files/{file_id}/content", "get", "A file's contents (a download)", None, None, False),
)
# Bodies that are not JSON: an upload is multipart, as OpenAI's.
_MULTIPART: dict[tuple[str, str], dict[str, Any]] = {
    ("/v1/files", "post"): {
        "type": "object",
        "required": ["file", "purpose"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "purpose": {
                "type": "string",
                "description": "assistants, batch, fine-tune, vision, user_data or evals",
            },
        },
    }
}
# Every management operation may answer these (invalid input is a 400, never a 422).
_API_ERRORS = {
    "400": "Invalid request (a field, a parameter or the JSON itself)",
    "401": "Missing, wrong, expired or revoked API key (or session)",
    "403": "Not allowed for this caller",
    "404": "No such resource",
    "409": "Conflict with the current state (a name taken, a revoked key)",
    "413": "Request body over the size limit",
    "429": "Too many requests (sign-in attempts, rate limits)",
    "503": "Temporarily unavailable, or shutting down",
}
_ERRORS = {
    "400": "Invalid request",
    "401": "Missing or wrong API key",
    "402": "Wallet, credit limit or key spend cap exhausted",
    "403": "This key, user or group may not use this model",
    "404": "Unknown model or route",
    "413": "Request body too large",
    "429": "Rate limit reached (see retry-after)",
    "502": "The upstream failed (x-should-retry says whether retrying may help)",
    "503": "No upstream available now",
}


def build_openapi(app: FastAPI, description: str) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title, version=app.version, description=description, routes=app.routes
    )
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    models: list[type[BaseModel]] = [ErrorEnvelope, V1ModelList, V1Model]
    models += [m for _, _, _, m, _, _ in _V1 if m is not None]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    components["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API key (sk-…): the CLI, scripts, SDKs and IDEs. "
            "`api-key` and `x-api-key` headers work too.",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "The web pages' session (POST /api/session). Requests that "
            "change something also need the X-CSRF-Token header from GET /api/session.",
        },
    }
    spec["security"] = [{"apiKey": []}, {"session": []}]
    paths = spec.setdefault("paths", {})
    for path, item in paths.items():
        for method, operation in item.items():
            if (path, method) in PUBLIC or not path.startswith("/api"):
                operation["security"] = []
            _declare_errors(operation.setdefault("responses", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for path, method, summary, request, response, streams in _V1:
        operation = _operation(summary, request, response, streams)
        names = re.findall(r"{(\w+)}", path)
        if names:  # every path template parameter declared (a document tools can use)
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in names
            ]
        if (path, method) in _MULTIPART:
            operation["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": _MULTIPART[path, method]}},
            }
        paths.setdefault(path, {})[method] = operation
    _with_conversation(paths["/v1/chat/completions"]["post"])
    for path in [p for p in paths if p.startswith("/v1/files")]:
        # /api/files: the same API for the web pages (key or session + CSRF token)
        paths["/api" + path.removeprefix("/v1")] = {
            method: {
                **{k: v for k, v in operation.items() if k != "security"},
                "tags": ["files"],
                "summary": operation["summary"] + " (as /v1" + path.removeprefix("/v1") + ")",
            }
            for method, operation in paths[path].items()
        }
    paths["/api/chat/completions"] = {"post": _web_chat()}
    return spec


def _web_chat() -> dict[str, Any]:
    """The web chat's endpoint (``http/memory_chat.py``), with its conversation id."""
    summary = "Chat completion with conversation memory (the web chat)"
    operation = _operation(summary, ConversationChatRequest, None, streams=True)
    del operation["security"]  # the global rule: a key, or the session + X-CSRF-Token
    operation["tags"] = ["chat"]
    operation["description"] = (
        "What the web chat calls: /v1/chat/completions, conversation memory included, for "
        "the web session (memory mode full unless the session was opened with a key): the "
        "earlier turns of the conversation fitted to the model's context, the user's "
        "memories, and the turn stored after the answer. A session needs the X-CSRF-Token "
        "header; a key may call it too, with that key's memory mode."
    )
    _with_conversation(operation)
    operation["responses"]["403"]["description"] += ", or a session without its X-CSRF-Token"
    return operation


def _with_conversation(operation: dict[str, Any]) -> None:
    """The conversation a chat continues (docs/memory.md): the header in, the ids out."""
    operation["parameters"] = [
        {
            "name": "X-Conversation-Id",
            "in": "header",
            "required": False,
            "description": "The conversation to continue (or the body's conversation_id); "
            "only the new message(s) are sent, the earlier turns are put in front of them",
            "schema": {"type": "string"},
        }
    ]
    responses = operation["responses"]
    responses["404"]["description"] += ", or no such conversation of this user"
    ok = responses["200"]
    ok["description"] += "; a JSON answer also has conversation_id (memory mode history or full)"
    ok["headers"] = {
        "X-Conversation-Id": {
            "description": "The conversation of this turn (a new one when none was named; "
            "absent in memory mode off)",
            "schema": {"type": "string"},
        },
        "X-Memories-Used": {
            "description": "Ids of the memories put in the prompt, comma-separated (full mode)",
            "schema": {"type": "string"},
        },
    }


def _declare_errors(responses: dict[str, Any]) -> None:
    responses.pop("422", None)
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorEnvelope")}}}
    for status, description in _API_ERRORS.items():
        responses.setdefault(status, {"description": description, "content": error})


def _operation(
    summary: str, request: type[BaseModel] | None, response: type[BaseModel] | None, streams: bool
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "application/json": {
            "schema": {"$ref": REF.format(model=response.__name__)}
            if response
            else {"type": "object", "description": f"As OpenAI's API: {REFERENCE}"}
        }
    }
    if streams:
        content["text/event-stream"] = {
            "schema": {"type": "string", "description": "with stream: true, server-sent events"}
        }
    operation: dict[str, Any] = {
        "tags": ["OpenAI-compatible (/v1)"],
        "summary": summary,
        "security": [{"apiKey": []}],
        "externalDocs": {"url": REFERENCE},
        "responses": {
            "200": {
                "description": "OK; every answer carries x-request-id",
                "content": content,
            },
            **{
                status: {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="ErrorEnvelope")}}
                    },
                }
                for status, text in _ERRORS.items()
            },
        },
    }
    if request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=request.__name__)}}
            },
        }
    return operation
