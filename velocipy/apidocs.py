"""The routes that publish an app's description: ``/openapi.json``, ``/docs``, ``/redoc`` and
``/asyncapi.json``.

The viewers' JavaScript and CSS come from the ``openapi-ui-bundles`` package (installed with
VelociPy), served by the app itself, so ``/docs`` works without any network access. The
document is built on the first request and kept (``Application.openapi``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from velocipy.responses import HTMLResponse, Response

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["install_api_docs"]

_ASSETS = {
    "swagger-ui-bundle.js": ("swagger_ui", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger_ui", "text/css; charset=utf-8"),
    "redoc.standalone.js": ("redoc", "text/javascript; charset=utf-8"),
}
_cache: dict[str, bytes] = {}


def _asset(name: str) -> Response:
    """One file of the viewers, read once from the installed package."""
    folder, media_type = _ASSETS[name]
    body = _cache.get(name)
    if body is None:
        import importlib.util  # only once a viewer is opened: `import velocipy` stays lean
        from pathlib import Path

        spec = importlib.util.find_spec("openapi_ui_bundles")  # located, never imported
        if spec is None or not spec.submodule_search_locations:
            return Response(
                b"The API viewers need the openapi-ui-bundles package: "
                b"pip install openapi-ui-bundles (it is a dependency of velocipy)",
                503,
                media_type="text/plain; charset=utf-8",
            )
        base = Path(spec.submodule_search_locations[0]) / folder / "vendor"
        body = _cache[name] = (base / name).read_bytes()
    return Response(body, 200, {"cache-control": "public, max-age=86400"}, media_type)


def _escape(text: str) -> str:
    """``text`` safe inside HTML text and double-quoted attributes."""
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.replace(raw, safe)
    return text


def swagger_ui_page(title: str, openapi_url: str, assets: str) -> str:
    config = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "validatorUrl": None,
        "layout": "BaseLayout",
    }
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(title)} - API docs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{_escape(assets)}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{_escape(assets)}/swagger-ui-bundle.js"></script>
<script>
const config = {msgspec.json.encode(config).decode()};
config.presets = [SwaggerUIBundle.presets.apis];
window.ui = SwaggerUIBundle(config);
</script>
</body>
</html>
"""


def redoc_page(title: str, openapi_url: str, assets: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(title)} - API reference</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="{_escape(openapi_url)}"></redoc>
<script src="{_escape(assets)}/redoc.standalone.js"></script>
</body>
</html>
"""


def install_api_docs(app: Application) -> None:
    """Register the document and viewer routes the app's settings ask for."""
    listed = len(app._routes)
    if app.asyncapi_url is not None:

        async def asyncapi_document() -> Response:
            return Response(app.asyncapi_bytes(), 200, media_type="application/json")

        app.add_route(
            app.asyncapi_url,
            asyncapi_document,
            ["GET"],
            name="asyncapi_document",
            include_in_schema=False,
        )
        _add_asyncapi_page(app, app.asyncapi_url)
    openapi_url = app.openapi_url
    if openapi_url is not None:
        _add_openapi(app, openapi_url)
    # Served, but not listed in app.routes (nor `velocipy routes`) and their names stay free.
    for route in app._routes[listed:]:
        app._names.pop(route.name, None)
    del app._routes[listed:]


def _add_openapi(app: Application, openapi_url: str) -> None:

    async def openapi_document() -> Response:
        return Response(app.openapi_bytes(), 200, media_type="application/json")

    app.add_route(
        openapi_url, openapi_document, ["GET"], name="openapi_document", include_in_schema=False
    )
    for url, page, names in (
        (app.docs_url, swagger_ui_page, ("swagger-ui-bundle.js", "swagger-ui.css")),
        (app.redoc_url, redoc_page, ("redoc.standalone.js",)),
    ):
        if url is None:
            continue
        _add_viewer(app, url, page(app.title, openapi_url, url), names)


# The viewers load nothing from elsewhere (ReDoc's sidebar would fetch its logo from a CDN).
_OWN_ORIGIN_ONLY = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; connect-src 'self'"
}


def _add_viewer(app: Application, url: str, page: str, assets: tuple[str, ...]) -> None:
    name = url.strip("/").replace("/", "_") or "docs"

    async def viewer() -> Response:
        return HTMLResponse(page, headers=_OWN_ORIGIN_ONLY)

    app.add_route(url, viewer, ["GET"], name=f"{name}_page", include_in_schema=False)
    for asset in assets:
        app.add_route(
            f"{url}/{asset}",
            _asset_handler(asset),
            ["GET"],
            name=f"{name}_{asset}",
            include_in_schema=False,
        )


def _add_asyncapi_page(app: Application, document_url: str) -> None:
    """``/asyncapi`` next to ``/asyncapi.json`` (the document's URL without ``.json``)."""
    page_url = document_url.removesuffix(".json")
    if page_url == document_url or not page_url:
        return
    made: list[tuple[dict[str, Any], str]] = []  # (document, its page): kept, like the document

    async def asyncapi_viewer() -> Response:
        document = app.asyncapi()
        if not made or made[0][0] is not document:  # first request, or routes were added since
            from velocipy.asyncapi_page import asyncapi_page

            made[:] = [(document, asyncapi_page(document, document_url))]
        return HTMLResponse(made[0][1], headers=_OWN_ORIGIN_ONLY)

    app.add_route(page_url, asyncapi_viewer, ["GET"], name="asyncapi_page", include_in_schema=False)


def _asset_handler(asset: str) -> Callable[[], Awaitable[Response]]:
    async def serve_asset() -> Response:
        return _asset(asset)

    return serve_asset
