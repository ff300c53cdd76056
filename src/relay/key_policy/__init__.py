"""The organisation's key policy: rules every key of a tenant is made under."""
