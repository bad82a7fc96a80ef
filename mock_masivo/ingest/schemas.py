"""Finds and loads the JSON Schema files (inside the installed package, or in a source checkout) and
Masivo's published example bodies, shipped in `mock_masivo/examples/`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # mock_masivo/


def schemas_dir() -> Path:
    """`mock_masivo/schemas` in a wheel; the repository's `schemas/` in a checkout or editable install."""
    for candidate in (_PACKAGE_DIR / "schemas", _PACKAGE_DIR.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no schemas/ directory next to {_PACKAGE_DIR}; the installation is incomplete")


@cache
def _load(name: str) -> str:
    return (schemas_dir() / name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """A fresh copy of one schema file, safe to modify."""
    schema: dict[str, Any] = json.loads(_load(name))
    return schema


EXAMPLE_KINDS = ("events", "customers", "transactions")


def example_text(kind: str) -> str:
    """Masivo's published example body for one endpoint, exactly as shipped (see README for its one edit)."""
    return (_PACKAGE_DIR / "examples" / f"{kind}.json").read_text(encoding="utf-8")
