"""A stakeholder channel as plan data: a name, a kind and its webhook URL.

It lives with the plan types (not with delivery in ``steps.comms``) so that loading and validating
a plan never imports the HTTP client that delivers messages.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

ChannelKind = Literal["slack", "teams", "generic"]


class Channel(BaseModel):
    """A stakeholder channel. ``url`` is a secret and stays out of ``repr``; refer to ``name``."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    kind: ChannelKind
    url: HttpUrl = Field(repr=False)
    timeout: float = Field(default=10.0, gt=0, description="seconds (wall) per attempt")
