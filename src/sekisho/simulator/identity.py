"""The identity a simulated provider stamps on everything it returns.

Real providers leak their name, organisation, region and request ids into
headers, ids, fingerprints, model names and error text. The simulator does
the same on purpose, with strings that are easy to search for, so gateway
tests can prove that none of it reaches a customer.
"""

from __future__ import annotations

from dataclasses import dataclass

MODEL_SUFFIX_DATE = "2024-08-06"
RATE_LIMIT_REQUESTS = 10_000
RATE_LIMIT_TOKENS = 2_000_000
PROVIDER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # a path segment; "_sim" stays free


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """Every identifying string of one simulated provider, derived from its name."""

    name: str

    @property
    def organization(self) -> str:
        return f"{self.name}-org"

    @property
    def region(self) -> str:
        return f"sim-region-{self.name}"

    @property
    def server(self) -> str:
        return f"{self.name}-sim/1.0"

    @property
    def fingerprint(self) -> str:
        return f"fp_{self.name}"

    def request_id(self, seq: int) -> str:
        return f"{self.name}-req-{seq}"

    def completion_id(self, seq: int) -> str:
        return f"chatcmpl-{self.name}-{seq}"

    def message_id(self, seq: int) -> str:
        return f"msg_{self.name}_{seq}"

    def openai_tool_call_id(self, seq: int) -> str:
        return f"call_{self.name}_{seq}"

    def anthropic_tool_use_id(self, seq: int) -> str:
        return f"toolu_{self.name}_{seq}"

    def model(self, requested: str) -> str:
        return f"{requested}-{self.name}-{MODEL_SUFFIX_DATE}"

    def listed_models(self) -> tuple[str, ...]:
        return (f"{self.name}-large", f"{self.name}-small")

    def error_text(self, message: str, host: str) -> str:
        """An error message that names the provider, its region and host, as real ones do."""
        return f"{message.rstrip('.')} on {self.name} (region {self.region}) at {host}."

    def common_headers(self) -> dict[str, str]:
        """Headers both wire formats carry; each wire adds its own on top."""
        return {
            "server": self.server,
            "x-simulator-provider": self.name,
            "x-simulator-region": self.region,
        }
