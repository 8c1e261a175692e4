"""A migration's canary writes (``canary:``): the data-loss and data-corruption rungs, detected.

Why in a migration: a cut-over that points the service at a database nobody migrated, or reads it
through a broken conversion, looks healthy to every request counter (reads answer 200 or a quick
404, nothing is slow) while the orders users placed yesterday are gone. The handbook's first
rollback rule ("data loss or corruption: roll back immediately") needs the fact measured: a few
small unique writes through the service before each world-changing T-0 step, every one of them
read back after it, and again at T+1h.

The writes are synthetic records marked ``{"canary": <run id>, ...}`` in the service's own store;
they are not deleted afterwards (a canary that deletes is a second thing that can go wrong in
production), so point ``url`` at an endpoint whose owners expect them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from odin_drills.plan.durations import Duration


class MigrationCanary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="where a canary is written (POST, JSON), e.g. https://shop/api/orders")
    read_url: str = Field(description="where a write is read back by its id (GET), e.g. https://shop/api/orders/{id}")
    id_field: str = Field(default="id", min_length=1, description="the field of the write's answer holding its id")
    read_field: str | None = Field(default="order", description="where the read answer holds the payload "
                                                                 "(null: the whole body)")
    writes_per_step: int = Field(default=3, ge=1, le=100, description="writes before each world-changing T-0 step")
    payload_bytes: int = Field(default=64, ge=8, le=65536)
    timeout: Duration = Field(default=2.0, gt=0, description="per request, wall seconds")

    @field_validator("read_url")
    @classmethod
    def _has_id(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("must contain {id}, e.g. https://shop/api/orders/{id}")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://shop/api/orders/{id}")
        return value
