"""The store is bounded: old objects are evicted, and evicted ids are not found."""

from __future__ import annotations

from mock_support import HEADERS, FakeClock, client_for
from starlette.applications import Starlette

from runcancel.mock import MockConfig, create_app

CAP = 5


def test_store_stays_at_the_cap_after_many_creations() -> None:
    """Creating far more objects than max_objects keeps each store at the cap; the oldest are gone."""
    app: Starlette = create_app(MockConfig(max_objects=CAP, clock=FakeClock()))
    with client_for(app, HEADERS) as client:
        assistants = [client.post("/v1/assistants", json={"model": "m"}).json()["id"] for _ in range(40)]
        threads = [client.post("/v1/threads").json()["id"] for _ in range(40)]
        newest = threads[-1]
        runs = [
            client.post(f"/v1/threads/{newest}/runs", json={"assistant_id": assistants[-1]}).json()["id"]
            for _ in range(40)
        ]
        assert app.state.store.sizes() == {"assistants": CAP, "threads": CAP, "runs": CAP}
        assert client.get(f"/v1/assistants/{assistants[0]}").status_code == 404
        assert client.get(f"/v1/threads/{threads[0]}").status_code == 404
        assert client.get(f"/v1/threads/{newest}/runs/{runs[0]}").json()["error"]["message"] == (
            f"No run found with id '{runs[0]}'."
        )
        assert client.get(f"/v1/threads/{newest}/runs/{runs[-1]}").status_code == 200
        listed = client.get(f"/v1/threads/{newest}/runs").json()["data"]
        assert [run["id"] for run in listed] == runs[-CAP:][::-1]


def test_evicting_a_thread_drops_its_runs() -> None:
    """When a thread is evicted its runs go too, so the run store never holds orphans."""
    app: Starlette = create_app(MockConfig(max_objects=2, clock=FakeClock()))
    with client_for(app, HEADERS) as client:
        assistant = client.post("/v1/assistants", json={"model": "m"}).json()["id"]
        first = client.post("/v1/threads").json()["id"]
        client.post(f"/v1/threads/{first}/runs", json={"assistant_id": assistant})
        client.post("/v1/threads")
        client.post("/v1/threads")
        assert app.state.store.sizes()["runs"] == 0
