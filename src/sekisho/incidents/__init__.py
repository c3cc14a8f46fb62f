"""Incidents: severity, affected aliases, timeline, customer updates (leak-checked), resolution."""
