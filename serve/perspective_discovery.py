"""The discovery document of our Perspective endpoints, so Google's own client library can call them.

Google's Python client (google-api-python-client) does not take a base URL: it reads a discovery document
and calls the `rootUrl` written there. Perspective's documented Python example builds its client from
`https://commentanalyzer.googleapis.com/$discovery/rest?version=v1alpha1`; a site that changes that one URL to
this service's gets this document, whose `rootUrl` is this server, and the unmodified client then posts to
our routes (serve/perspective.py). The document is ours: it describes only the two methods and the fields
we implement (serve/perspective_schemas.py), not Google's full API.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .perspective import PerspectiveError
from .perspective_schemas import ATTRIBUTES, LANGUAGE, TRAINED

discovery_router = APIRouter(tags=["perspective"])
VERSION = "v1alpha1"


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": name}


def _array_of_strings(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


def schemas() -> dict[str, dict[str, Any]]:
    # Read from the mappings, so a new attribute is described here too.
    attributes = ", ".join(sorted({*ATTRIBUTES, *TRAINED}))
    objects: dict[str, dict[str, Any]] = {
        "TextEntry": {"text": _string("The comment's text.")},
        "Context": {
            "entries": {
                "type": "array",
                "items": _ref("TextEntry"),
                "description": "The article the comment sits under: the first of several is its title.",
            }
        },
        "AttributeParameters": {
            "scoreType": _string("Only PROBABILITY is answered."),
            "scoreThreshold": {"type": "number", "format": "float", "description": "Leave out scores under this."},
        },
        "Score": {
            "value": {"type": "number", "format": "float", "description": "A calibrated probability."},
            "type": _string("Always PROBABILITY."),
        },
        "SpanScore": {
            "begin": {"type": "integer", "format": "int32", "description": "First character (a code point)."},
            "end": {"type": "integer", "format": "int32", "description": "One past the last character."},
            "score": _ref("Score"),
        },
        "AttributeScores": {
            "summaryScore": _ref("Score"),
            "spanScores": {
                "type": "array",
                "items": _ref("SpanScore"),
                "description": "With spanAnnotations: the characters that made the comment score high.",
            },
        },
        "AnalyzeCommentRequest": {
            "comment": _ref("TextEntry"),
            "context": _ref("Context"),
            "requestedAttributes": {
                "type": "object",
                "additionalProperties": _ref("AttributeParameters"),
                "description": f"Attributes to score: {attributes}.",
            },
            "languages": _array_of_strings(f"Only English ({LANGUAGE}, or an English BCP-47 tag)."),
            "doNotStore": {"type": "boolean", "description": "Write nothing about this comment."},
            "spanAnnotations": {"type": "boolean", "description": "Answer spanScores per attribute."},
            "dropUnsupportedAttributes": {"type": "boolean", "description": "Leave out, not refuse, others."},
            "clientToken": _string("Echoed in the answer."),
            "communityId": _string("The site: its policy section and copy-paste memory apply."),
        },
        "AnalyzeCommentResponse": {
            "attributeScores": {"type": "object", "additionalProperties": _ref("AttributeScores")},
            "languages": _array_of_strings("Always [en]."),
            "clientToken": _string("The request's clientToken."),
        },
        "SuggestCommentScoreRequest": {
            "comment": _ref("TextEntry"),
            "context": _ref("Context"),
            "attributeScores": {
                "type": "object",
                "additionalProperties": _ref("AttributeScores"),
                "description": "TOXICITY and SPAM; stored as a moderator's label.",
            },
            "languages": _array_of_strings(f"Only English ({LANGUAGE})."),
            "clientToken": _string("Echoed in the answer."),
            "communityId": _string("The site the feedback is stored under."),
        },
        "SuggestCommentScoreResponse": {
            "detectedLanguages": _array_of_strings("Always [en]."),
            "requestedLanguages": _array_of_strings("The request's languages."),
            "clientToken": _string("The request's clientToken."),
        },
    }
    return {name: {"id": name, "type": "object", "properties": props} for name, props in objects.items()}


def _method(name: str, request: str, response: str, description: str) -> dict[str, Any]:
    path = f"{VERSION}/comments:{name}"
    return {
        "id": f"commentanalyzer.comments.{name}",
        "path": path,
        "flatPath": path,
        "httpMethod": "POST",
        "parameters": {},
        "parameterOrder": [],
        "request": _ref(request),
        "response": _ref(response),
        "description": description,
    }


def document(root_url: str) -> dict[str, Any]:
    """The document for a server reached at `root_url` (ending in "/"). No `auth` section: the key goes in
    `key` (the client's developerKey), and a document naming OAuth scopes would make the client look for
    Google credentials."""
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": f"commentanalyzer:{VERSION}",
        "name": "commentanalyzer",
        "version": VERSION,
        "title": "Comment moderation: Perspective-compatible endpoints",
        "description": "A self-hosted service answering Perspective's analyze and suggestscore calls.",
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "",
        "basePath": "",
        "baseUrl": root_url,
        "batchPath": "",
        "parameters": {
            "key": {"type": "string", "location": "query", "description": "An API key this service knows."},
        },
        "schemas": schemas(),
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method(
                        "analyze", "AnalyzeCommentRequest", "AnalyzeCommentResponse", "Scores a comment."
                    ),
                    "suggestscore": _method(
                        "suggestscore",
                        "SuggestCommentScoreRequest",
                        "SuggestCommentScoreResponse",
                        "Stores a moderator's scores as feedback.",
                    ),
                }
            }
        },
    }


# Not in /openapi.json: like /openapi.json itself, it is a description of the API, not a part of it.
@discovery_router.get("/$discovery/rest", include_in_schema=False)
async def discovery(request: Request) -> JSONResponse:
    """The discovery document google-api-python-client reads (`discoveryServiceUrl`). Public, as Google's is
    and as /openapi.json is here: it describes the routes, and the routes check the key."""
    version = request.query_params.get("version")
    if version != VERSION:
        raise PerspectiveError(404, f"no discovery document for version {version!r}; this service has {VERSION!r}")
    # The server as the client reached it (uvicorn rewrites scheme and host only for trusted proxies, and
    # base_url carries any root_path), so the client calls back the same way it came in.
    return JSONResponse(document(str(request.base_url)))
