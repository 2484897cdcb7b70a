"""What a notification says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Content:
    title: str = field(repr=False)
    body: str = field(repr=False)
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)
    deep_link: str | None = None
