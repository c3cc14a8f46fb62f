"""Inbound APIs beyond chat completions, each a bare-ASGI endpoint over the shared services.

embeddings.py          POST /v1/embeddings (EmbeddingService)
anthropic_messages.py  POST /v1/messages, /v1/messages/count_tokens (ChatService)
responses.py           POST /v1/responses (ChatService)
"""
