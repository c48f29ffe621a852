"""Implementations of :mod:`flaresuite.ports` that need no Cloudflare runtime."""
