"""Leaked-key reports: signed lists of tokens found exposed (GitHub's secret-scanning
partner format), each live key among them revoked at once, with an audit event and a
banner in the tenant's dashboard until someone dismisses it."""
