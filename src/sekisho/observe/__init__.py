"""Observability: request-log rollups and series, spike alerts, metrics, probes, triage."""
