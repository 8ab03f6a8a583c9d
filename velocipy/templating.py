"""Jinja2 templates (the optional extra ``templates``: ``pip install -e '.[templates]'``).

``Jinja2Templates("templates").TemplateResponse(request, "page.html", {...})`` renders an HTML
response with autoescaping on, and with ``request`` and ``url_for`` available in every template.
This is the only module that imports Jinja2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

try:
    import jinja2
    import markupsafe
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without jinja2
    raise ImportError(
        "velocipy.templating needs Jinja2, which is not installed: "
        "pip install -e '.[templates]' in a clone of VelociPy, or pip install 'jinja2>=3.1'"
    ) from exc

from velocipy.requests import Request
from velocipy.responses import AfterResponse, HeadersInput, HTMLResponse

__all__ = ["Jinja2Templates"]


@jinja2.pass_context
def _url_for(context: Any, name: str, /, **params: Any) -> str:
    """``{{ url_for("static", path="app.css") }}``: the path of a named route or mount."""
    request: Request = context["request"]
    return request.app.url_for(name, **params)


@jinja2.pass_context
def _csrf_token(context: Any) -> str:
    """``{{ csrf_token() }}``: a masked CSRF token for a fetch header (``CSRFMiddleware``)."""
    from velocipy.security.csrf import csrf_token

    return csrf_token(context["request"])


@jinja2.pass_context
def _csrf_input(context: Any) -> markupsafe.Markup:
    """``{{ csrf_input() }}``: the hidden form field ``CSRFMiddleware`` checks."""
    from velocipy.security.csrf import csrf_token

    token = csrf_token(context["request"])
    return markupsafe.Markup('<input type="hidden" name="csrf_token" value="%s">') % token


class Jinja2Templates:
    """Templates from ``directory`` (or a list of directories, or a ready Jinja2 ``env``).

    Autoescaping is on for every template except ``.txt`` ones, so values from users cannot
    inject HTML. ``url_for`` and the ``request`` are in every template's context, and so are
    ``csrf_input()`` / ``csrf_token()`` for forms under ``CSRFMiddleware``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        env: jinja2.Environment | None = None,
    ) -> None:
        if (directory is None) == (env is None):
            raise ValueError("Jinja2Templates needs either directory=... or env=..., not both")
        if env is None:
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(directory),  # type: ignore[arg-type]
                autoescape=jinja2.select_autoescape(
                    disabled_extensions=("txt",), default_for_string=True, default=True
                ),
            )
        env.globals.setdefault("url_for", _url_for)
        env.globals.setdefault("csrf_token", _csrf_token)
        env.globals.setdefault("csrf_input", _csrf_input)
        self.env = env

    def get_template(self, name: str) -> jinja2.Template:
        return self.env.get_template(name)

    def TemplateResponse(  # the name Starlette and FastAPI users know
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: HeadersInput = None,
        media_type: str | None = None,
        background: AfterResponse | None = None,
    ) -> HTMLResponse:
        """Render template ``name`` with ``context`` (plus ``request``) into an HTML response."""
        values = {**(context or {}), "request": request}
        content = self.get_template(name).render(values)
        return HTMLResponse(content, status_code, headers, media_type, background)
