"""What `velocipy run` adds to its "ready" line when the app serves interactive API docs."""

from __future__ import annotations


def docs_address(app: object, host: str, port: int, *, secure: bool = False) -> str:
    """``; API docs at http://host:port/docs`` when the app serves Swagger UI, else ``""``."""
    docs = getattr(app, "docs_url", None)
    if not isinstance(docs, str) or getattr(app, "openapi_url", None) is None:
        return ""
    url_host = f"[{host}]" if ":" in host else host
    scheme = "https" if secure else "http"
    return f"; API docs at {scheme}://{url_host}:{port}{docs}"
