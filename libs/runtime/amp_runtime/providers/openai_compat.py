"""An OpenAI-compatible provider (Ollama, vLLM, ...): `/v1/chat/completions` over httpx.

The contract travels as `response_format: {"type": "json_schema", ...}`, which both servers
turn into constrained decoding; the answer is validated and corrected exactly as for the
Anthropic provider. Local models accept `temperature`, so it is always 0.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from amp_contracts import ProviderInfo

from .base import ProviderRequestRejected
from .config import ProviderConfig
from .packs import PromptPack
from .resilience import Outage, parse_retry_after
from .structured import Turn


def completions_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


class OpenAICompatTransport:
    provider = "openai"

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient | None = None) -> None:
        if not config.openai_base_url:
            raise ValueError("the openai provider needs AMP_OPENAI_BASE_URL (e.g. http://localhost:11434/v1)")
        self.config = config
        self.url = completions_url(config.openai_base_url)
        headers = {"Authorization": f"Bearer {config.openai_api_key}"} if config.openai_api_key else {}
        self.client = client or httpx.AsyncClient(timeout=config.timeout_s, headers=headers)

    def start(self, pack: PromptPack, schema: dict[str, Any], user_text: str, reference: str = "") -> list[dict[str, Any]]:
        system = pack.system + ("\n\n" + pack.few_shot_text() if pack.few_shot else "") + (
            "\n\n" + reference if reference else "")
        return [{"role": "system", "content": system}, {"role": "user", "content": user_text}]

    def size(self, conversation: list[dict[str, Any]]) -> int:
        return sum(len(str(m["content"])) for m in conversation)

    async def turn(self, model: str, conversation: list[dict[str, Any]], pack: PromptPack,
                   schema: dict[str, Any]) -> Turn:
        body = {"model": model, "messages": conversation, "temperature": 0, "max_tokens": pack.max_tokens,
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": pack.tool.name, "schema": schema, "strict": False}}}
        try:
            r = await self.client.post(self.url, json=body)
        except httpx.TimeoutException as e:
            raise Outage("timeout", "the request timed out") from e
        except httpx.TransportError as e:
            raise Outage("connection", f"the connection failed ({type(e).__name__})") from e
        if r.status_code == 429 or r.status_code >= 500 or r.status_code == 408:
            kind = "rate_limited" if r.status_code == 429 else "server_error"
            raise Outage(kind, f"{kind.replace('_', ' ')} ({r.status_code})", status=r.status_code,
                         retry_after=parse_retry_after(r.headers))
        if r.status_code >= 400:
            raise ProviderRequestRejected(f"The model server refused the request for {model} ({r.status_code}: "
                                          f"{r.text[:200]}); check the model name and AMP_OPENAI_BASE_URL.",
                                          provider=self.provider, model=model)
        data = r.json()
        usage = data.get("usage") or {}
        cached = ((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0
        info = ProviderInfo(provider=self.provider, model=model,
                            input_tokens=max(0, (usage.get("prompt_tokens") or 0) - cached),
                            output_tokens=usage.get("completion_tokens") or 0, cache_read_tokens=cached)
        content = ((data.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
        return Turn(payload=content, info=info, state=content)

    def correct(self, conversation: list[dict[str, Any]], turn: Turn, error: str) -> list[dict[str, Any]]:
        return [*conversation, {"role": "assistant", "content": turn.state if isinstance(turn.state, str)
                                else json.dumps(turn.state)},
                {"role": "user", "content": f"{error}\nAnswer again with one corrected JSON object only."}]
