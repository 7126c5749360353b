"""Loads the per-service template files under templates/ and fills them in."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


class ConfigTemplate(string.Template):
    """`@@{name}` placeholders: nginx, Apache and shell all use `$` themselves."""

    delimiter = "@@"


def template_path(relative: str) -> Path:
    """The path of a template file, e.g. `nginx/nginx.conf`."""
    return TEMPLATES_DIR / relative


def render_template(relative: str, values: Mapping[str, object]) -> str:
    """Fill a template; a placeholder without a value is an error, never left behind."""
    text = template_path(relative).read_text()
    return ConfigTemplate(text).substitute({k: str(v) for k, v in values.items()})
