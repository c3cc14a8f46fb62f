"""Guardrails: pure detectors and policy (normalize, findings, pii, secrets, ...) and the chat-path pipeline."""
