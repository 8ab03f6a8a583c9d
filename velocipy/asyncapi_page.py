"""``/asyncapi``: the app's AsyncAPI document as a page, rendered here, loading nothing else.

Each WebSocket route (channel) with its address, summary, path parameters, the query
parameters and headers it reads, and its messages each way, with their schemas and examples.
The page is plain HTML and CSS made on the server: it works offline and under a content
security policy that allows only the app's own origin.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["asyncapi_page"]

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem 2rem; }
h1 { margin-bottom: 0; } .version { color: #666; }
section.channel { border-top: 1px solid #ddd; padding: 0.5rem 0 1rem; }
code.address { font-size: 1.15rem; background: #f3f3f3; padding: 0.1rem 0.4rem; }
.direction { font-weight: 600; margin-top: 0.8rem; }
.message { margin: 0.4rem 0 0.4rem 1rem; }
pre { background: #f6f8fa; padding: 0.6rem; overflow-x: auto; margin: 0.3rem 0; }
table { border-collapse: collapse; } td, th { padding: 0.2rem 0.8rem 0.2rem 0; text-align: left; }
"""
# The point of view of a reader writing a client: what to send, what comes back.
_DIRECTIONS = (("receive", "Clients send"), ("send", "Clients receive"))


def _json(value: Any) -> str:
    return html.escape(json.dumps(value, indent=2, ensure_ascii=False))


def asyncapi_page(document: dict[str, Any], document_url: str) -> str:
    """The whole page for ``document`` (an AsyncAPI 3.0 dict, as ``app.asyncapi()`` builds)."""
    info = document.get("info", {})
    title = html.escape(str(info.get("title", "API")))
    components = document.get("components", {})
    messages = components.get("messages", {})
    operations = document.get("operations", {})
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title} - WebSocket API</title>",
        f'<link rel="icon" href="data:,"><style>{_STYLE}</style></head><body>',
        f'<h1>{title} <span class="version">{html.escape(str(info.get("version", "")))}'
        "</span></h1>",
        f"<p>WebSocket routes (AsyncAPI {html.escape(str(document.get('asyncapi', '')))}; "
        f'the document: <a href="{html.escape(document_url)}">'
        f"{html.escape(document_url)}</a>)</p>",
    ]
    if info.get("description"):
        parts.append(f"<p>{html.escape(str(info['description']))}</p>")
    channels = document.get("channels", {})
    if not channels:
        parts.append("<p>This app has no WebSocket routes.</p>")
    for channel_id, channel in channels.items():
        parts.append(_channel(channel_id, channel, operations, messages))
    schemas = components.get("schemas", {})
    if schemas:
        parts.append('<section class="schemas"><h2>Schemas</h2>')
        for name, schema in schemas.items():
            parts.append(
                f'<h3 id="schema-{html.escape(name)}">{html.escape(name)}</h3>'
                f"<pre>{_json(schema)}</pre>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _channel(
    channel_id: str,
    channel: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
) -> str:
    address = html.escape(str(channel.get("address", "")))
    parts = [
        f'<section class="channel" id="channel-{html.escape(channel_id)}">',
        f'<h2><code class="address">{address}</code></h2>',
    ]
    for key in ("summary", "description"):
        if channel.get(key):
            parts.append(f"<p>{html.escape(str(channel[key]))}</p>")
    rows = [(name, "path", spec.get("description", "")) for name, spec in
            channel.get("parameters", {}).items()]  # fmt: skip
    binding = channel.get("bindings", {}).get("ws", {})
    for key, where in (("query", "query"), ("headers", "header")):
        schema = binding.get(key, {})
        required = set(schema.get("required", []))
        for name, sub in schema.get("properties", {}).items():
            note = json.dumps(sub) + ("" if name in required else " (optional)")
            rows.append((name, where, note))
    if rows:
        parts.append("<table><tr><th>parameter</th><th>in</th><th>schema</th></tr>")
        parts += [
            f"<tr><td><code>{html.escape(name)}</code></td><td>{where}</td>"
            f"<td><code>{html.escape(note)}</code></td></tr>"
            for name, where, note in rows
        ]
        parts.append("</table>")
    for action, heading in _DIRECTIONS:
        operation = operations.get(f"{channel_id}_{action}")
        if operation is None:
            continue
        parts.append(f'<div class="direction">{heading}</div>')
        for reference in operation.get("messages", []):
            name = str(reference.get("$ref", "")).rsplit("/", 1)[-1]
            parts.append(_message(name, messages.get(name, {})))
    parts.append("</section>")
    return "\n".join(parts)


def _message(name: str, message: dict[str, Any]) -> str:
    escaped = html.escape(name)
    parts = [f'<div class="message"><strong>{escaped}</strong>']
    if message.get("summary"):
        parts.append(f" - {html.escape(str(message['summary']))}")
    payload = message.get("payload", {})
    reference = str(payload.get("$ref", ""))
    if reference:
        target = html.escape(reference.rsplit("/", 1)[-1])
        parts.append(f' (schema: <a href="#schema-{target}">{target}</a>)')
    else:
        parts.append(f"<pre>{_json(payload)}</pre>")
    for example in message.get("examples", []):
        parts.append(f"<div>Example:</div><pre>{_json(example.get('payload'))}</pre>")
    parts.append("</div>")
    return "".join(parts)
