"""Request and response body of /api/v1/key-policy."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from relay.schemas import Input

MAX_POLICY_DAYS = 3650


class KeyPolicyBody(Input):
    """The organisation key policy: every field is sent (PUT replaces the policy)."""

    model_config = ConfigDict(extra="forbid")

    max_lifetime_days: int | None = Field(
        ge=1,
        le=MAX_POLICY_DAYS,
        description="Keys expire at most this many days after they are made (at the end "
        "of that UTC day): a key made without an expiry gets it, a later one asked for is "
        "422. null: no maximum. Keys made before keep their expiry.",
        examples=[90],
    )
    expire_unused_after_days: int | None = Field(
        ge=1,
        le=MAX_POLICY_DAYS,
        description="A key not used for this many days (or never used and made that long "
        "ago) expires, with an api_key.expired_unused audit event. Checked every hour. "
        "null: never.",
        examples=[180],
    )
    full_access_keys: Literal["allowed", "owners_only"] = Field(
        description='"owners_only": only an owner, in the dashboard, makes keys with full '
        "access (every scope on every dataset); a key made, rotated or widened through the "
        "API must leave out a scope or be limited to chosen datasets.",
        examples=["allowed"],
    )
