"""Notices to a tenant's owners and admins: a key about to expire, a leaked key revoked,
a quota nearly or fully used. Mailed when RELAY_SMTP_URL is set, shown in the
dashboard either way."""
