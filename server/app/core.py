"""The core analyses the routes call, imported on first use (plotly and the diff load lazily)."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ApiError


def core_function(module_name: str, function: str) -> Any:
    """A core analysis that may not be in this build yet; 501 when it is not."""
    try:
        return getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as e:
        raise ApiError(501, "not_available", f"this server has no {module_name}.{function} "
                       "analysis yet") from e
