"""LangChain `with_structured_output` works against the gateway (simulated models behind it)."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env


class Weather(BaseModel):
    city: str = Field(description="the city")
    days: int = Field(ge=1, le=7)
    unit: str = Field(pattern="^(celsius|fahrenheit)$", default="celsius")


@pytest.mark.parametrize(
    ("alias", "method"),
    [
        ("chat-large", "json_schema"),
        ("chat-large", "function_calling"),
        ("chat-fast", "function_calling"),  # an Anthropic route: tools carry the schema
    ],
)
def test_with_structured_output(env: Env, sim: SimulatorServer, alias: str, method: str) -> None:
    model = ChatOpenAI(
        base_url=env.url + "/v1",
        api_key=env.keys["acme"],
        model=alias,
        max_retries=0,  # type: ignore[arg-type]
    )
    structured = model.with_structured_output(Weather, method=method)  # type: ignore[arg-type]
    result = structured.invoke("What is the weather in Tokyo?")
    assert isinstance(result, Weather)
    assert result.days >= 1
