"""Sekisho: a multi-tenant, sovereignty-aware gateway for LLM chat."""

__version__ = "0.1.0"
__all__ = ["__version__"]
