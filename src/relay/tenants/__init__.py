"""Tenants (customer accounts) and their users."""
