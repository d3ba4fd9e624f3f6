"""Aloft: self-hosted uptime monitoring."""

__version__ = "0.1.0"
