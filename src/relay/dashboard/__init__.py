"""The web dashboard: sign-up, sign-in, Settings > API Keys, members and datasets."""
