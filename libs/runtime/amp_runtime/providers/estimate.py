"""What a run will spend on models, estimated before its first model call.

A per-call guard alone lets a run spend most of what is left and stop half-way, with tokens
paid for and nothing to show. Estimating the whole version first lets the budget gate pause a
run before it spends anything. The estimate is one pass through every model call the pipeline
makes (`amp_contracts.MODEL_CALLS`) with the provider configured for it: calls answered by the
rules cost nothing; for a model call, the tokens measured on the project's earlier versions when
there are any (the best predictor of the next version of the same system), else the prompt
pack's size plus the input at ~4 characters a token in and the pack's whole output allowance out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from amp_contracts import MODEL_CALLS

from .config import ProviderConfig
from .packs import PackRegistry

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class CallEstimate:
    call: str
    model: str
    input_tokens: int
    output_tokens: int
    usd: float
    basis: str  # "history": measured on earlier versions; "prompt": the pack's size and output allowance


@dataclass(frozen=True)
class RunEstimate:
    calls: tuple[CallEstimate, ...]

    @property
    def usd(self) -> float:
        return round(sum(c.usd for c in self.calls), 6)

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    def as_dict(self) -> dict[str, object]:
        return {"usd": self.usd, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "calls": [c.__dict__ for c in self.calls]}


def estimate_run(config: ProviderConfig, packs: PackRegistry | None, input_chars: int,
                 history: Mapping[str, tuple[float, float]] | None = None) -> RunEstimate:
    """The model calls of one version and what each may cost.

    `history` maps a call to the mean (input, output) tokens it used per version before.
    """
    history = history or {}
    calls: list[CallEstimate] = []
    for call in MODEL_CALLS:
        provider = config.provider_for(call.name)
        if provider == "deterministic":
            continue
        model = config.models_for(call.name, provider)[0]
        price = config.price(model)
        if call.name in history:
            tokens_in, tokens_out = (round(t) for t in history[call.name])
            basis = "history"
        else:
            pack = packs.get(call.pack) if packs is not None and call.pack in packs.names() else None
            prompt_chars = (len(pack.system) + len(pack.few_shot_text()) if pack else 0) + input_chars
            tokens_in = -(-prompt_chars // CHARS_PER_TOKEN)
            tokens_out = pack.max_tokens if pack else 2048
            basis = "prompt"
        usd = 0.0 if price is None else round((tokens_in * price.input + tokens_out * price.output) / 1_000_000, 6)
        calls.append(CallEstimate(call.name, model, tokens_in, tokens_out, usd, basis))
    return RunEstimate(tuple(calls))
