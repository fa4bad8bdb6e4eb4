"""The requests schemathesis's checks send on their own go through the suites' client as well.

`ignored_auth` sends a case that succeeded again, without the key and with a wrong one, through its
schema's transport (`schema.transport`, the `requests` library by default). Sent that way they would
skip everything the suites' client does: the pace, 429s waited out, the bounds, the target's extra
headers and profile (Azure's `api-key`), an in-process app, the cassette's httpx stubs. `route_resends`
gives the probe's schema a transport that sends each such case with `TargetClient.send_raw` instead,
and `as_bearer` shows schemathesis the key as the contract documents it (`Authorization: Bearer`)
whichever header the profile sends it in, so the check can tell the key's presence from its absence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runcancel.targets import KEY_SLOT, Exchange, TargetClient

__all__ = ["as_bearer", "route_resends"]


def as_bearer(sent: Mapping[str, str], client: TargetClient) -> dict[str, str]:
    """`sent` with the profile's key header (Azure's `api-key`) shown as `Authorization: Bearer <key>`."""
    profile = client.target.rules
    shown = dict(sent)
    if profile.key_header.lower() == KEY_SLOT.lower():
        return shown
    for name in [n for n in shown if n.lower() == profile.key_header.lower()]:
        value = shown.pop(name)
        shown[KEY_SLOT] = "Bearer " + value.removeprefix(profile.key_prefix)
    return shown


def route_resends(operation: Any, client: TargetClient) -> None:
    """Make `operation`'s schema send the requests of its checks through `client` (this schema only)."""
    from schemathesis.transport import BaseTransport

    from runcancel.probe.judge import _as_schemathesis_response, target_of

    class ClientTransport(BaseTransport[Any]):
        """A case sent with the suites' client: the key slot and the beta header only as the case has them."""

        def send(self, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
            given = {**dict(case.headers or {}), **dict(kwargs.get("headers") or {})}
            overrides: dict[str, str | None] = {KEY_SLOT: None, "OpenAI-Beta": None}
            overrides.update({str(k): str(v) for k, v in given.items()})
            target = target_of(case)
            exchange: Exchange = client.send_raw(case.method, target, headers=overrides)
            sent = as_bearer(client.headers_for(overrides), client)
            return _as_schemathesis_response(
                exchange, client.target.base_url + target.decode("ascii", "replace"), sent
            )

    transport = ClientTransport()
    schema = operation.schema
    routed = {"transport": property(lambda _schema: transport)}
    schema.__class__ = type(f"Routed{type(schema).__name__}", (type(schema),), routed)
