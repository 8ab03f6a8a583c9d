"""Integrations with third-party libraries, each imported only when used (optional extras)."""
