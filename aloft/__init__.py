"""Aloft: self-hosted uptime monitoring."""

from aloft.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
