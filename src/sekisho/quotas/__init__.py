"""Tenant and key quotas: requests, tokens and concurrent streams per minute, monthly budgets.

    limits.py    QuotaLimits and how a tenant override is laid over the defaults (pure)
    estimate.py  the tokens a request reserves before its upstream call (pure)
    plan.py      the counters one request touches, and what a refusal says (pure)
    counters.py  the shared counters: Redis (atomic Lua) or in-process, same semantics
    service.py   QuotaService: admit before the upstream call, settle after the last byte
    overrides.py per-tenant overrides in the store, each change in the ledger

A request's estimated tokens are *reserved* before the upstream call and reconciled with
the real usage when its request-log row is written, so concurrent requests cannot
overshoot a limit the way after-the-fact charging does.
"""
