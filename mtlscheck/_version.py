"""Single source of the version string (read by ``--version`` without importing anything else)."""

__version__ = "0.1.0"
