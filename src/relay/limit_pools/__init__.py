"""Limit pools: a rate limit and a quota shared by several keys."""
