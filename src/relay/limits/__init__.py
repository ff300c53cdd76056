"""Counting requests in sliding windows: the failed-authentication limit per client
address and the rate limits of API keys, in Redis when configured, else in memory."""
