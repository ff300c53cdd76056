"""Imports every domain's models so that `Base.metadata` knows all tables."""

from relay.auth.models import ApiKey
from relay.dashboard.models import Invitation, LoginFailure, WebSession
from relay.datasets.models import Dataset, DatasetCount
from relay.tenants.models import Tenant, User

__all__ = [
    "ApiKey",
    "Dataset",
    "DatasetCount",
    "Invitation",
    "LoginFailure",
    "Tenant",
    "User",
    "WebSession",
]
