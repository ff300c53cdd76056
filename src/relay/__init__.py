"""Relay: a multi-tenant REST API server authenticated by API keys."""

__version__ = "0.1.0"
