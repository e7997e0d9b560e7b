"""`/openapi.json`: FastAPI's generated description, corrected to what the server really does.

- Request errors are 400 (never FastAPI's 422) and every error body is OpenAI's `Error`
  object; it is each operation's `default` response.
- The multipart upload of `POST /v1/files` is described (FastAPI cannot see a body the route
  parses itself).
- Each operation's 200 body has a schema (the required fields of the OpenAI object it returns),
  so schema-based tools check responses too.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import Match

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
NULLABLE_INTEGER: dict[str, Any] = {"type": ["integer", "null"]}


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    """An object with these required properties (others allowed)."""
    return {"type": "object", "required": list(properties), "properties": properties}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(item: str, **extra: dict[str, Any]) -> dict[str, Any]:
    return _object(object={"const": "list"}, data={"type": "array", "items": _ref(item)}, **extra)


USAGE = _object(prompt_tokens=INTEGER, total_tokens=INTEGER)
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object(
        error=_object(
            message=STRING, type=STRING, param=NULLABLE_STRING, code=NULLABLE_STRING
        )
    ),
    "Model": _object(id=STRING, object={"const": "model"}, created=INTEGER, owned_by=STRING),
    "Engine": _object(id=STRING, object={"const": "engine"}, ready=BOOLEAN),
    "Deleted": _object(id=STRING, object=STRING, deleted=BOOLEAN),
    "File": _object(
        id=STRING, object={"const": "file"}, bytes=INTEGER, created_at=INTEGER,
        filename=STRING, purpose=STRING,
    ),
    "FineTuningJob": _object(
        id=STRING, object={"const": "fine_tuning.job"}, created_at=INTEGER, model=STRING,
        status=STRING, training_file=STRING, fine_tuned_model=NULLABLE_STRING,
    ),
    "FineTuningEvent": _object(
        id=STRING, object={"const": "fine_tuning.job.event"}, created_at=INTEGER,
        level=STRING, message=STRING,
    ),
    "FineTuningCheckpoint": _object(
        id=STRING, object={"const": "fine_tuning.job.checkpoint"}, created_at=INTEGER,
        fine_tuned_model_checkpoint=STRING, step_number=INTEGER, fine_tuning_job_id=STRING,
    ),
    "FineTune": _object(
        id=STRING, object={"const": "fine-tune"}, created_at=INTEGER, model=STRING,
        status=STRING, fine_tuned_model=NULLABLE_STRING,
    ),
    "FineTuneEvent": _object(
        object={"const": "fine-tune-event"}, created_at=INTEGER, level=STRING, message=STRING
    ),
    "Completion": _object(
        id=STRING, object={"const": "text_completion"}, created=INTEGER, model=STRING,
        choices={"type": "array", "items": _object(
            text=STRING, index=INTEGER, logprobs={"type": ["object", "null"]},
            finish_reason=NULLABLE_STRING,
        )},
    ),
    "ChatCompletion": _object(
        id=STRING, object={"const": "chat.completion"}, created=INTEGER, model=STRING,
        choices={"type": "array", "items": _object(
            index=INTEGER, message=_object(role={"const": "assistant"}, content=NULLABLE_STRING),
            finish_reason=STRING,
        )},
        usage=USAGE,
    ),
    "EmbeddingList": _list(
        "Embedding", model=STRING, usage=USAGE
    ),
    "Embedding": _object(
        object={"const": "embedding"}, index=INTEGER,
        embedding={"oneOf": [{"type": "array", "items": NUMBER}, STRING]},
    ),
    "Moderation": _object(
        id=STRING, model=STRING,
        results={"type": "array", "items": _object(
            flagged=BOOLEAN,
            categories={"type": "object", "additionalProperties": BOOLEAN},
            category_scores={"type": "object", "additionalProperties": NUMBER},
        )},
    ),
}  # fmt: skip
SSE = {"text/event-stream": {"schema": STRING}}
RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/v1/models"): _list("Model"),
    ("get", "/v1/models/{model}"): _ref("Model"),
    ("delete", "/v1/models/{model}"): _ref("Deleted"),
    ("get", "/v1/engines"): _list("Engine"),
    ("get", "/v1/engines/{engine_id}"): _ref("Engine"),
    ("post", "/v1/completions"): _ref("Completion"),
    ("post", "/v1/chat/completions"): _ref("ChatCompletion"),
    ("post", "/v1/embeddings"): _ref("EmbeddingList"),
    ("post", "/v1/moderations"): _ref("Moderation"),
    ("post", "/v1/files"): _ref("File"),
    ("get", "/v1/files"): _list("File"),
    ("get", "/v1/files/{file_id}"): _ref("File"),
    ("delete", "/v1/files/{file_id}"): _ref("Deleted"),
    ("post", "/v1/fine_tuning/jobs"): _ref("FineTuningJob"),
    ("get", "/v1/fine_tuning/jobs"): _list("FineTuningJob", has_more=BOOLEAN),
    ("get", "/v1/fine_tuning/jobs/{job_id}"): _ref("FineTuningJob"),
    ("post", "/v1/fine_tuning/jobs/{job_id}/cancel"): _ref("FineTuningJob"),
    ("post", "/v1/fine_tuning/jobs/{job_id}/pause"): _ref("FineTuningJob"),
    ("post", "/v1/fine_tuning/jobs/{job_id}/resume"): _ref("FineTuningJob"),
    ("get", "/v1/fine_tuning/jobs/{job_id}/events"): _list("FineTuningEvent", has_more=BOOLEAN),
    ("get", "/v1/fine_tuning/jobs/{job_id}/checkpoints"): _list(
        "FineTuningCheckpoint", has_more=BOOLEAN
    ),
    ("post", "/v1/fine-tunes"): _ref("FineTune"),
    ("get", "/v1/fine-tunes"): _list("FineTune"),
    ("get", "/v1/fine-tunes/{fine_tune_id}"): _ref("FineTune"),
    ("post", "/v1/fine-tunes/{fine_tune_id}/cancel"): _ref("FineTune"),
    ("get", "/v1/fine-tunes/{fine_tune_id}/events"): _list("FineTuneEvent"),
}
STREAMING = {("post", "/v1/completions"), ("post", "/v1/chat/completions")}
UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": _object(
                file={"type": "string", "format": "binary"},
                purpose={"type": "string", "enum": ["fine-tune", "fine-tune-results"]},
            )
        }
    },
}


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The corrected description of the app's `/v1` operations (built once, then cached)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version="2020-10-01", summary=app.summary, routes=app.routes
    )
    schema["paths"] = {p: ops for p, ops in schema["paths"].items() if p.startswith("/v1")}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(SCHEMAS)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["default"] = {
                "description": "An error in OpenAI's shape (400 for a bad request).",
                "content": {"application/json": {"schema": _ref("Error")}},
            }
            body = RESPONSES.get((method, path))
            if body is not None:
                content = {"application/json": {"schema": body}}
                if (method, path) in STREAMING:
                    content.update(SSE)
                responses["200"] = {"description": "Successful Response", "content": content}
            if (method, path) == ("post", "/v1/files"):
                operation["requestBody"] = UPLOAD
    app.openapi_schema = schema
    return schema


def allowed_methods(app: FastAPI, path: str) -> str:
    """The `Allow` header of a 405: every method some route serves at this path."""
    allowed = []
    for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"):
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        if any(route.matches(scope)[0] == Match.FULL for route in app.routes):
            allowed.append(method)
    return ", ".join(allowed)
