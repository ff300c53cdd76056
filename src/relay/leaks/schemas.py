"""The body of a leak report: GitHub's secret-scanning partner format."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from relay.leaks.models import LeakNotice
from relay.schemas import Input
from relay.text import StoredText, TransientText

MAX_TOKENS_PER_REPORT = 1000


class LeakedToken(Input):
    """One entry of a report; each is read on its own (see service.read_entries)."""

    model_config = ConfigDict(extra="ignore")  # reporters may add fields of their own

    token: Annotated[str, TransientText(max_length=200)]
    type: Annotated[str, TransientText(max_length=100)] = Field(examples=["relay_api_key"])
    url: Annotated[str, StoredText.of(LeakNotice.url)] = Field(
        examples=["https://github.com/octo-org/octo-repo/blob/abc/config.py"]
    )
    source: Annotated[str, StoredText.of(LeakNotice.source)] = Field(examples=["content"])


# The report as a whole: a list, of at most so many entries, each looked at later.
ReportItems = Annotated[list[Any], Field(max_length=MAX_TOKENS_PER_REPORT)]
LeakReportBody = TypeAdapter(ReportItems)
# The body's schema for the OpenAPI document, with the item inline: pydantic's own
# would point at "#/$defs/LeakedToken", which does not resolve from the document's root.
LEAK_REPORT_SCHEMA = {
    "type": "array",
    "maxItems": MAX_TOKENS_PER_REPORT,
    "items": LeakedToken.model_json_schema(),
}


class ReportReceived(BaseModel):
    """The same answer whatever the tokens were: it tells nothing about them."""

    received: int = Field(description="How many entries the report held.")
