"""mtlscheck: verify and diagnose mutual TLS on real HTTPS endpoints."""

from mtlscheck._version import __version__

__all__ = ["__version__"]
