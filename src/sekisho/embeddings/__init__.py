"""`POST /v1/embeddings`: embedding aliases under the same routing rules as chat.

request.py   validate an OpenAI embeddings request (pure)
wire.py      the upstream request and our rebuilt response (pure, allow-listed)
service.py   EmbeddingService: plan, try routes with failover, log
"""
