"""ws-probe knows the API: the route's messages from the app's AsyncAPI document.

When the target app serves ``/asyncapi.json`` (VelociPy apps do), the probe reads the channel
whose address matches the path it connected to: the message types the route receives (what
the probe may send, each with a template filled from its schema) and the ones it sends (every
received message is checked against them). Checking needs ``jsonschema``
(``pip install jsonschema``); without it the types and templates still work.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

DOCUMENT_PATH = "/asyncapi.json"
FETCH_TIMEOUT_SECONDS = 3.0
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class MessageType:
    name: str
    schema: dict[str, Any]  # the payload schema, with the document's components to resolve refs
    example: Any

    def template(self) -> str:
        return json.dumps(self.example)


@dataclass
class RouteApi:
    """One WebSocket route as the AsyncAPI document describes it."""

    address: str
    accepts: dict[str, MessageType] = field(default_factory=dict)  # clients send these
    sends: dict[str, MessageType] = field(default_factory=dict)  # clients receive these
    checking: bool = True  # False without jsonschema: no validation

    def summary(self) -> str:
        accepts = ", ".join(self.accepts) or "nothing declared"
        sends = ", ".join(self.sends) or "nothing declared"
        return f"{self.address}: send {accepts}; receive {sends} (/types, /send NAME)"

    def outgoing_problem(self, text: str, name: str | None = None) -> str | None:
        """Why the route would refuse ``text`` (one of ``accepts``, or ``name``); None if fine."""
        if not self.accepts:
            return None
        chosen = [self.accepts[name]] if name else list(self.accepts.values())
        names = " or ".join(kind.name for kind in chosen)
        try:
            value = json.loads(text)
        except ValueError:
            return f"the route takes JSON messages ({names}), and this is not JSON"
        problems = [_problem(kind.schema, value) for kind in chosen]
        if any(problem is None for problem in problems):
            return None
        return f"not a {names}: {problems[0]}"

    def incoming_problem(self, message: str | bytes) -> str | None:
        """Why a received message matches none of ``sends``; None if it matches one."""
        if not self.sends or not self.checking:
            return None
        names = " or ".join(self.sends)
        if isinstance(message, bytes):
            return f"binary, but the route sends JSON ({names})"
        try:
            value = json.loads(message)
        except ValueError:
            return f"not JSON, but the route sends {names}"
        problems = [_problem(kind.schema, value) for kind in self.sends.values()]
        if any(problem is None for problem in problems):
            return None
        return f"not a {names}: {problems[0]}"


def _problem(schema: dict[str, Any], value: Any) -> str | None:
    try:
        from jsonschema import Draft202012Validator
    except ImportError:  # checking is an extra: pip install jsonschema
        return None
    error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    if error is None:
        return None
    where = "".join(f"[{part!r}]" if isinstance(part, int) else f".{part}" for part in error.path)
    return f"{error.message}" + (f" at ${where}" if where else "")


def checking_available() -> bool:
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return False
    return True


def document_url(ws_url: str) -> str:
    """``ws://host:port/rooms/1?x=1`` → ``http://host:port/asyncapi.json``."""
    parts = urllib.parse.urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urllib.parse.urlunsplit((scheme, parts.netloc, DOCUMENT_PATH, "", ""))


def fetch_document(ws_url: str, context: ssl.SSLContext | None) -> dict[str, Any] | None:
    """The app's AsyncAPI document, or None when it serves none (any failure: no knowledge)."""
    url = document_url(ws_url)
    try:
        with urllib.request.urlopen(
            url, timeout=FETCH_TIMEOUT_SECONDS, context=context if url.startswith("https") else None
        ) as response:
            if response.status != 200:
                return None
            document = json.loads(response.read(MAX_DOCUMENT_BYTES))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not str(document.get("asyncapi", "")).startswith("3."):
        return None
    return document


def route_api(document: dict[str, Any], ws_url: str) -> RouteApi | None:
    """The route of ``document`` whose address matches ``ws_url``'s path; None if none does."""
    path = urllib.parse.urlsplit(ws_url).path or "/"
    components = document.get("components", {})
    schemas = components.get("schemas", {})
    messages = components.get("messages", {})
    operations = document.get("operations", {})
    for channel_id, channel in document.get("channels", {}).items():
        address = str(channel.get("address", ""))
        if not _matches(address, path):
            continue
        api = RouteApi(address, checking=checking_available())
        for operation in operations.values():
            if operation.get("channel", {}).get("$ref") != f"#/channels/{channel_id}":
                continue
            chosen = api.accepts if operation.get("action") == "receive" else api.sends
            for reference in operation.get("messages", []):
                name = str(reference.get("$ref", "")).rsplit("/", 1)[-1]
                message = messages.get(name, {})
                payload = dict(message.get("payload", {}))
                payload["components"] = {"schemas": schemas}  # so "#/components/..." resolves
                examples = message.get("examples") or [{}]
                chosen[name] = MessageType(name, payload, examples[0].get("payload"))
        return api
    return None


def _matches(address: str, path: str) -> bool:
    pattern = "".join(
        "[^/]+" if re.fullmatch(r"\{[^}]*\}", part) else re.escape(part)
        for part in re.split(r"(\{[^}]*\})", address)
    )
    return re.fullmatch(pattern, path) is not None


def types_view(api: RouteApi) -> Text:
    """The /types answer: what the route takes (with templates) and what it sends."""
    text = Text(f"{api.address}\n", style="bold")
    for heading, kinds in (("you send", api.accepts), ("you receive", api.sends)):
        text.append(f"  {heading}:\n", style="bold")
        if not kinds:
            text.append("    (nothing declared)\n")
        for kind in kinds.values():
            text.append(f"    {kind.name:<16}", style="cyan")
            text.append(f"{kind.template()}\n")
    text.rstrip()
    return text
