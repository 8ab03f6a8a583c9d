"""An example value for a JSON Schema: what a message of that type looks like, filled in.

Used for the ``examples`` of each AsyncAPI message (``/asyncapi`` shows them; ``ws-probe``
offers them as templates). Declared ``examples`` and ``default`` values win; otherwise the
smallest value the schema accepts (``0`` within bounds, ``""``, the first enum member, the
first branch of a union).
"""

from __future__ import annotations

from typing import Any

__all__ = ["example_for"]

_MAX_DEPTH = 8  # recursive types stop here with null
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "email": "user@example.com",
    "uri": "https://example.com",
}


def example_for(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """An example of ``schema``; ``components`` resolves ``#/components/schemas/Name`` refs."""
    if depth > _MAX_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = components.get(ref.rsplit("/", 1)[-1], {})
        return example_for(target, components, depth + 1)
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = [b for b in schema.get(key, []) if b.get("type") != "null"]
        if branches:
            return example_for(branches[0], components, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_for(sub, components, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        count = schema.get("minItems", 0)
        return [example_for(items or {}, components, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = 0 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
        high = schema.get("maximum")
        value = min(value, high) if high is not None and value > high else value
        return value if kind == "number" else int(value)
    if kind == "string":
        text = _FORMATS.get(str(schema.get("format")), "")
        return text + "x" * max(0, int(schema.get("minLength", 0)) - len(text))
    if kind == "boolean":
        return False
    return None
