"""Identity: sign-in with Argon2id passwords, server-side sessions, CSRF, sign-in throttling.

Sessions live in the store (`user_sessions`), the browser holds only a random
token in an HttpOnly, SameSite cookie; the row keeps its SHA-256. Every use
of a session reads the store (no cache), so a revoked session or a suspended
tenant is refused on every replica at once, and a store that cannot answer
refuses the request (503, Rule 6). Idle and absolute timeouts apply; a new
session id is minted at every sign-in and the one presented is revoked.
"""
