"""The Anthropic provider: the Messages API through the `anthropic` SDK, with forced tool use.

The answer's contract is a tool whose `input_schema` is the Pydantic model's JSON Schema and
`tool_choice={"type": "tool", "name": ...}` forces the model to call it, so the answer is
always a JSON object. The pack's system prompt and its few-shot block carry
`cache_control: {"type": "ephemeral"}`, so repeated calls read them from the prompt cache.
`temperature: 0` is sent (through `extra_body`; the SDK no longer has the argument) only to
models configured as still accepting it. The SDK's own retries are off by default
(`max_retries=0`): the breaker must see each 429/5xx to decide when to fall back.
"""

from __future__ import annotations

from typing import Any

import anthropic
from amp_contracts import ProviderInfo

from .base import ProviderRequestRejected
from .config import ProviderConfig
from .packs import PromptPack
from .resilience import Outage, parse_retry_after
from .structured import Turn

EPHEMERAL = {"type": "ephemeral"}


def make_client(config: ProviderConfig) -> anthropic.AsyncAnthropic:
    kw: dict[str, Any] = {"max_retries": config.sdk_max_retries, "timeout": config.timeout_s}
    if config.anthropic_api_key:
        kw["api_key"] = config.anthropic_api_key
    if config.anthropic_base_url:
        kw["base_url"] = config.anthropic_base_url
    return anthropic.AsyncAnthropic(**kw)


def outage_of(e: Exception) -> Outage | None:
    """The SDK's errors that mean "not now" rather than "never"."""
    if isinstance(e, anthropic.APITimeoutError):
        return Outage("timeout", "the request timed out")
    if isinstance(e, anthropic.APIConnectionError):
        return Outage("connection", "the connection failed")
    if isinstance(e, anthropic.APIStatusError):
        status = e.status_code
        retry_after = parse_retry_after(e.response.headers)
        if status == 429:
            return Outage("rate_limited", "rate limited (429)", status=status, retry_after=retry_after)
        if status == 529 or getattr(e, "type", None) == "overloaded_error":
            return Outage("overloaded", f"overloaded ({status})", status=status, retry_after=retry_after)
        if status >= 500 or status == 408:
            return Outage("server_error", f"server error ({status})", status=status, retry_after=retry_after)
    return None


class AnthropicTransport:
    provider = "anthropic"

    def __init__(self, config: ProviderConfig, client: anthropic.AsyncAnthropic | None = None) -> None:
        self.config = config
        self.client = client or make_client(config)

    def start(self, pack: PromptPack, schema: dict[str, Any], user_text: str, reference: str = "") -> dict[str, Any]:
        system = [{"type": "text", "text": pack.system, "cache_control": EPHEMERAL}]
        if pack.few_shot:
            system.append({"type": "text", "text": pack.few_shot_text(), "cache_control": EPHEMERAL})
        if reference:  # stable per catalog version: the last cache breakpoint
            system.append({"type": "text", "text": reference, "cache_control": EPHEMERAL})
        return {"system": system, "messages": [{"role": "user", "content": user_text}]}

    def size(self, conversation: dict[str, Any]) -> int:
        return len(str(conversation["system"])) + len(str(conversation["messages"]))

    async def turn(self, model: str, conversation: dict[str, Any], pack: PromptPack, schema: dict[str, Any]) -> Turn:
        kw: dict[str, Any] = {
            "model": model, "max_tokens": pack.max_tokens, "system": conversation["system"],
            "messages": conversation["messages"],
            "tools": [{"name": pack.tool.name, "description": pack.tool.description, "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": pack.tool.name, "disable_parallel_tool_use": True},
        }
        if self.config.accepts_temperature(model):
            kw["extra_body"] = {"temperature": 0}
        try:
            msg = await self.client.messages.create(**kw)
        except anthropic.APIError as e:
            outage = outage_of(e)
            if outage is not None:
                raise outage from e
            status = getattr(e, "status_code", None)
            raise ProviderRequestRejected(
                f"The Anthropic API refused the request for {model} ({status}: {getattr(e, 'message', e)}); "
                "check the API key, the model id and the request size.", provider=self.provider, model=model) from e
        u = msg.usage
        info = ProviderInfo(provider=self.provider, model=model, input_tokens=u.input_tokens or 0,
                            output_tokens=u.output_tokens or 0, cache_read_tokens=u.cache_read_input_tokens or 0,
                            cache_write_tokens=u.cache_creation_input_tokens or 0)
        blocks: list[dict[str, Any]] = []
        payload: Any = None
        tool_id: str | None = None
        texts: list[str] = []
        for b in msg.content:
            if b.type == "tool_use":
                blocks.append({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input})
                if payload is None and b.name == pack.tool.name:
                    payload, tool_id = b.input, b.id
            elif b.type == "text":
                blocks.append({"type": "text", "text": b.text})
                texts.append(b.text)
        if payload is None:
            payload = "\n".join(texts)  # a text answer: validated as JSON, and corrected when it is not
        return Turn(payload=payload, info=info, state={"assistant": blocks, "tool_use_id": tool_id,
                                                        "stop_reason": msg.stop_reason})

    def correct(self, conversation: dict[str, Any], turn: Turn, error: str) -> dict[str, Any]:
        ask = f"{error}\nCall the tool again with a corrected, complete answer."
        assistant = turn.state["assistant"] or [{"type": "text", "text": "(no answer)"}]
        if turn.state.get("tool_use_id"):
            reply: Any = [{"type": "tool_result", "tool_use_id": turn.state["tool_use_id"], "is_error": True,
                           "content": ask}]
        else:
            reply = ask
        return {**conversation, "messages": [*conversation["messages"], {"role": "assistant", "content": assistant},
                                             {"role": "user", "content": reply}]}
