"""The gateway with embedding aliases (shared with tests/inbound)."""

from tests.inbound.conftest import env, sim  # noqa: F401
