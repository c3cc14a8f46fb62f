"""The provider simulator: one process impersonating many managed LLM providers.

``POST /{provider}/v1/chat/completions`` speaks the OpenAI wire format,
``POST /{provider}/v1/messages`` the Anthropic one, ``GET /{provider}/v1/models``
either. Any provider name is created on first use, with its own identity,
fault queue and counters. Faults are injected over the ``/_sim`` admin API
(see ``admin`` and ``faults``). Answers are deterministic (see ``generate``).
"""

from sekisho.simulator.app import create_simulator_app
from sekisho.simulator.server import SimulatorServer, run_simulator

__all__ = ["SimulatorServer", "create_simulator_app", "run_simulator"]
