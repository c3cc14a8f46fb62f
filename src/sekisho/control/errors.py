"""Re-exported so every control-plane module raises the same refusal type."""

from sekisho.tenancy.service import ControlPlaneError

__all__ = ["ControlPlaneError"]
