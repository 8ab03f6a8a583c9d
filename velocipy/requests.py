"""The neutral request: what a handler sees, whatever server delivered it.

``Connection`` holds what HTTP requests and WebSockets share; protocol adapters subclass
``Request`` / ``WebSocket`` and fill in the ``_read_*`` hooks. Every attribute is computed on
first use and cached, so a handler that never looks at headers never pays for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from velocipy.datastructures import URL, Address, Headers, QueryParams, State, parse_cookies
from velocipy.exceptions import HTTPException, RequestValidationError
from velocipy.hosts import parse_host
from velocipy.json import JSONDecodeError

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.forms import FormData

__all__ = ["Connection", "Request"]


class Connection:
    """What HTTP requests and WebSockets have in common.

    PERF: lazily computed attributes are slots left unset until first use (reading one raises
    ``AttributeError``, caught once), so creating a connection costs a few assignments.
    """

    __slots__ = (
        "_cookies",
        "_forwarded",
        "_headers",
        "_path_params",
        "_query_params",
        "_query_string",
        "_session",
        "_state",
        "app",
        "path",
    )

    app: Application
    path: str
    _cookies: dict[str, str]
    _forwarded: tuple[Address | None, str]
    _headers: Headers
    _path_params: dict[str, Any]
    _query_params: QueryParams
    _query_string: str
    _session: dict[str, Any]
    _state: State

    def __init__(self, app: Application, path: str) -> None:
        self.app = app
        self.path = path

    # --- hooks the protocol adapters implement -------------------------------------------
    def _read_headers(self) -> Headers:
        raise NotImplementedError

    def _read_query_string(self) -> str:
        raise NotImplementedError

    def _read_client(self) -> Address | None:
        raise NotImplementedError

    def _read_scheme_and_server(self) -> tuple[str, Address | None]:
        raise NotImplementedError

    def _read_root_path(self) -> str:
        return ""  # RSGI has none

    # --- the neutral API ------------------------------------------------------------------
    @property
    def root_path(self) -> str:
        """Where the app is mounted: the ASGI ``root_path`` (the prefix of the VelociPy app
        that mounts this one, below which ``path`` is); ``""`` at the top and on RSGI."""
        return self._read_root_path()

    @property
    def path_params(self) -> dict[str, Any]:
        """Path parameters, converted (``{"item_id": 3}`` for ``/items/{item_id:int}``)."""
        try:
            return self._path_params
        except AttributeError:
            params: dict[str, Any] = {}
            self._path_params = params
            return params

    @path_params.setter
    def path_params(self, params: dict[str, Any]) -> None:
        self._path_params = params

    @property
    def headers(self) -> Headers:
        """Request headers; names answer case-insensitively, ``get_list`` gives repeats."""
        try:
            return self._headers
        except AttributeError:
            headers = self._headers = self._read_headers()
            return headers

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        return self.headers.get(name, default)

    @property
    def query_string(self) -> str:
        """The raw query string, still percent-encoded, without the ``?``."""
        try:
            return self._query_string
        except AttributeError:
            query = self._query_string = self._read_query_string()
            return query

    @property
    def query_params(self) -> QueryParams:
        try:
            return self._query_params
        except AttributeError:
            params = self._query_params = QueryParams(self.query_string)
            return params

    @property
    def cookies(self) -> dict[str, str]:
        try:
            return self._cookies
        except AttributeError:
            cookies = self._cookies = parse_cookies(self.headers.get_list("cookie"))
            return cookies

    @property
    def client(self) -> Address | None:
        """The peer's address, when the server knows it (behind a trusted proxy: the client's)."""
        return self._read_client()

    @property
    def url(self) -> URL:
        scheme, server = self._read_scheme_and_server()
        host_header = self.header("host")
        host, port = _host_and_port(host_header, server)
        return URL(scheme, host, port, self.path, self.query_string)

    def set_forwarded(self, client: Address | None, scheme: str, host: str | None) -> None:
        """Record what a trusted proxy says about the original request (ProxyHeadersMiddleware)."""
        self._forwarded = (client, scheme)
        # PERF: this connection becomes a variant whose address hooks read the record, so
        # connections that never pass through a proxy keep the plain hooks (no check per read).
        self.__class__ = _forwarded_variant(type(self))
        if host is not None:
            kept = [item for item in self.headers.multi_items() if item[0] != "host"]
            self._headers = Headers._from_lowercase([*kept, ("host", host)])

    @property
    def session(self) -> dict[str, Any]:
        """The signed-cookie session of :class:`~velocipy.middleware.SessionMiddleware`."""
        try:
            return self._session
        except AttributeError:
            raise RuntimeError(
                "request.session needs the session middleware: "
                "app.add_middleware(SessionMiddleware, secret_key=...)"
            ) from None

    @session.setter
    def session(self, session: dict[str, Any]) -> None:
        self._session = session

    @property
    def state(self) -> State:
        """Per-connection values that middleware and handlers share."""
        try:
            return self._state
        except AttributeError:
            state = self._state = State()
            return state


_FORWARDED_VARIANTS: dict[type[Connection], type[Connection]] = {}


def _forwarded_variant(cls: type[Connection]) -> type[Connection]:
    """``cls`` with the client and scheme taken from ``set_forwarded`` (made once per class)."""
    variant = _FORWARDED_VARIANTS.get(cls)
    if variant is None:

        def _read_client(self: Connection) -> Address | None:
            return self._forwarded[0]

        def _read_scheme_and_server(self: Connection) -> tuple[str, Address | None]:
            server = cls._read_scheme_and_server(self)[1]
            return self._forwarded[1], server

        namespace = {
            "__slots__": (),
            "_read_client": _read_client,
            "_read_scheme_and_server": _read_scheme_and_server,
        }
        variant = _FORWARDED_VARIANTS[cls] = type(cls.__name__, (cls,), namespace)
    return variant


def _host_and_port(host_header: str | None, server: Address | None) -> tuple[str, int | None]:
    # A Host that is not a host (velocipy.hosts) falls back to the server address (BadHost).
    parsed = parse_host(host_header) if host_header else None
    if parsed is not None:
        return parsed
    if server is not None:
        return server.host, server.port
    return "localhost", None


class Request(Connection):
    """An HTTP request."""

    __slots__ = ("_body", "_form", "_json", "_stream_consumed", "method")

    method: str
    _body: bytes
    _form: FormData
    _json: Any
    _stream_consumed: bool

    def __init__(self, app: Application, method: str, path: str) -> None:
        self.app = app
        self.method = method
        self.path = path

    def _receive_chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as the server delivers it (adapters implement this)."""
        raise NotImplementedError

    async def _receive_whole(self) -> bytes | None:
        """The body when the server has it in one piece; None to read it chunk by chunk.

        PERF: a small body comes whole from every server; taking it in one await spares
        ``body()`` two async generators (and asyncio's bookkeeping of each). Adapters
        implement this; None here means "read it as a stream".
        """
        return None

    def _declared_length(self) -> int | None:
        """The ``Content-Length`` header as a number; 400 if it is not one."""
        value = self.header("content-length")
        if value is None:
            return None
        if not value.isdigit() or not value.isascii():
            raise HTTPException(400, "Content-Length must be a non-negative whole number")
        return int(value)

    def check_declared_length(self) -> None:
        """Refuse with 413 a body whose declared size is over the app's limit, before reading it."""
        declared = self._declared_length()
        if declared is not None and declared > self.app.max_body_size:
            raise HTTPException(413, _too_large_message(self.app.max_body_size))

    async def stream(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk, without keeping it; stops with 413 past ``max_body_size``."""
        body = getattr(self, "_body", None)
        if body is not None:
            if body:
                yield body
            return
        if getattr(self, "_stream_consumed", False):
            raise RuntimeError("the request body was already consumed by stream()")
        self._stream_consumed = True
        self.check_declared_length()
        limit = self.app.max_body_size
        received = 0
        async for chunk in self._receive_chunks():
            if not chunk:
                continue
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, _too_large_message(limit))
            yield chunk

    async def body(self) -> bytes:
        """The whole body (read once, then cached)."""
        try:
            return self._body
        except AttributeError:
            pass  # read outside the handler: a failed read must not chain this AttributeError
        whole = None
        if not getattr(self, "_stream_consumed", False):
            self.check_declared_length()  # 413 before anything is read
            whole = await self._receive_whole()
        if whole is None:
            chunks = [chunk async for chunk in self.stream()]
            whole = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        else:
            self._stream_consumed = True
            limit = self.app.max_body_size
            if len(whole) > limit:
                raise HTTPException(413, _too_large_message(limit))
        self._body = whole
        return whole

    async def json(self) -> Any:
        """The body parsed with the app's JSON adapter; 400 with a clear message if not JSON."""
        try:
            return self._json
        except AttributeError:
            pass
        body = await self.body()
        try:
            value = self._json = self.app.json.decode(body)
        except JSONDecodeError as exc:
            raise invalid_json_error(exc) from None
        return value

    async def form(self) -> FormData:
        """The body parsed as a form (urlencoded or multipart), read once, then cached.

        Limits come from the app's ``form_limits``. Uploaded files are closed when the request
        is over (or earlier with ``await form.close()`` / ``async with form:``).
        """
        try:
            return self._form
        except AttributeError:
            from velocipy.forms import close_with_request, parse_form

            form = self._form = await parse_form(self, self.app.form_limits)
            close_with_request(form)
            return form

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


def invalid_json_error(exc: JSONDecodeError) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ["body"], "msg": f"Invalid JSON: {exc}", "type": "json_invalid"}],
        status_code=400,
    )


def _too_large_message(limit: int) -> str:
    return f"Request body is larger than the limit of {limit} bytes"
