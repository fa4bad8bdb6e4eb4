"""Profiles: how a kind of deployment takes the key and the version, and which clauses it cannot hold.

- `openai` (the default): `Authorization: Bearer <key>` and `OpenAI-Beta: assistants=v2`.
- `azure`: the key as it is in `api-key`, no `OpenAI-Beta`, and `api-version` required in the target's
  query. What differs is read from the contract's `x-profiles.azure` overlay (`x-source: Azure`), so
  the document and the client cannot disagree; `not_applicable` maps each clause that cannot hold
  there (the beta clauses) to the reason, for the suites to report as not applicable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runcancel.targets.errors import TargetError
from runcancel.targets.urls import BaseURL

__all__ = ["BETA_HEADER", "PROFILES", "Profile", "get_profile"]

BETA_HEADER = {"OpenAI-Beta": "assistants=v2"}
KEY_HEADER = "Authorization"


@dataclass(frozen=True)
class Profile:
    """How requests authenticate and which headers and query a deployment of the operation needs."""

    name: str
    key_header: str = KEY_HEADER
    key_prefix: str = "Bearer "
    beta: Mapping[str, str] = field(default_factory=lambda: dict(BETA_HEADER))
    required_query: Mapping[str, str] = field(default_factory=dict)  # name -> why, with an example
    not_applicable: Mapping[str, str] = field(default_factory=dict)  # clause id -> reason
    source: str = "the contract document"

    def key_value(self, key: str) -> str:
        return self.key_prefix + key

    def default_headers(self, key: str | None) -> dict[str, str]:
        """The key header (none when there is no key) and the beta header, as every request sends them."""
        return {**({self.key_header: self.key_value(key)} if key is not None else {}), **self.beta}

    def not_applicable_reason(self, clause: str) -> str | None:
        """Why `clause` cannot hold under this profile (for a "not verified" outcome), or None."""
        reason = self.not_applicable.get(clause)
        return None if reason is None else f"not applicable under --profile {self.name}: {reason}"

    def check(self, base: BaseURL, shown: str) -> None:
        """TargetError when the target's URL lacks what this profile requires (Azure's `api-version`)."""
        for name, why in self.required_query.items():
            if not base.query_value(name):
                raise TargetError(
                    f"runcancel: --profile {self.name} needs `{name}` in the target's query, and "
                    f"{shown!r} has none. {why} Add it to the target URL, e.g. "
                    f"https://NAME.openai.azure.com/openai?{name}=2024-05-01-preview."
                )


def _azure(overlay: Mapping[str, Any]) -> Profile:
    not_sent = overlay.get("headers-not-sent") or {}
    return Profile(
        name="azure",
        key_header=str(overlay["key-header"]),
        key_prefix="",
        beta={k: v for k, v in BETA_HEADER.items() if k not in not_sent},
        required_query={str(k): str(v) for k, v in (overlay.get("query") or {}).items()},
        not_applicable={str(k): str(v) for k, v in (overlay.get("not-applicable") or {}).items()},
        source=str(overlay.get("x-source", "Azure")),
    )


def _overlay(name: str) -> Mapping[str, Any]:
    from runcancel.contract import load_contract  # the document is read only when a profile needs it

    overlays: Mapping[str, Any] = load_contract().get("x-profiles") or {}
    return overlays[name]  # type: ignore[no-any-return]


PROFILES = ("openai", "azure")


def get_profile(name: str | Profile) -> Profile:
    """The profile named `name` (`openai`, `azure`); TargetError (one paragraph) for any other."""
    if isinstance(name, Profile):
        return name
    chosen = name.strip().lower()
    if chosen == "openai":
        return Profile("openai")
    if chosen == "azure":
        return _azure(_overlay("azure"))
    raise TargetError(
        f"runcancel: --profile takes one of {', '.join(PROFILES)}, got {name!r}. `openai` sends "
        "`Authorization: Bearer <key>` and `OpenAI-Beta`; `azure` sends the key as `api-key`, no "
        "`OpenAI-Beta`, and needs `api-version` in the target's query."
    )
