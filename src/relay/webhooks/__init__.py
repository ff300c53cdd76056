"""Signed webhooks: endpoints a tenant registers, the events Relay writes to its outbox
in the transaction of the change they announce, and the sender that delivers them."""
