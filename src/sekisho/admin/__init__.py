"""The operator API under /admin/v1 (FastAPI, documented by its OpenAPI schema)."""
