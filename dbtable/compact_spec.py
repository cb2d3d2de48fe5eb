"""A spec kept small for as long as the operator holds it (pure: no Kopf, no database).

The drift sweep needs every resource's spec as the watch last saw it, for as long as the
resource exists: 10,000 resources, 10,000 specs held between sweeps. As decoded JSON (dicts of
lists of dicts of strings) the seed example's spec takes about 2.7 KB; as its compact JSON
text about 0.2 KB. The sweep decodes it when it compares, once per interval.

The text is JSON with ASCII escapes (``ensure_ascii``): every value JSON can carry decodes back
to an equal value (key order, floats, a lone surrogate from a ``\\ud800`` escape included), and
an ASCII text is one byte per character.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# Always the same text for the same value (no spaces), so equal specs compare equal as bytes.
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False,
                            default=lambda value: _plain(value))


def encode_spec(spec: Mapping[str, Any]) -> bytes:
    """The spec as compact JSON bytes; ``decode_spec`` gives back an equal dict."""
    return _ENCODER.encode(spec).encode("ascii")


def decode_spec(text: bytes) -> dict[str, Any]:
    """A fresh dict each call: callers may change it without touching what is kept."""
    value = json.loads(text)
    if not isinstance(value, dict):  # encode_spec only ever writes an object
        raise ValueError("a compact spec is not a JSON object")
    return value


def _plain(value: Any) -> Any:
    """What the encoder cannot write itself: Kopf's mapping and sequence views of a body."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
