"""The page's live stream through a dropped connection: a visible "reconnecting…", then the stream
resumes after the last event shown, with no timeline entry twice.

The page talks to the gateway through a TCP relay on loopback that the test can cut (closing every
connection it carries, the open SSE stream among them), and new stream requests are refused in the
browser while the test keeps the stream away; meanwhile the run goes on (approved over the API), so
the events the page missed arrive with the resumed stream.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from amp_cli.client import Client
from playwright.sync_api import expect

from tests.e2e.flows import follow, is_gate, waivers_for

pytestmark = pytest.mark.browser

FRAUD = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
         "99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. "
         "Retrain weekly.")
LONG = 180_000


class Relay:
    """A TCP relay 127.0.0.1:port → the gateway, whose open connections can be cut at once."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
            with self.lock:
                self.open.discard(s)

    def cut(self) -> int:
        """Close every connection the relay carries now; returns how many there were."""
        with self.lock:
            conns, self.open = list(self.open), set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.cuts += 1
        return len(conns)

    def close(self) -> None:
        self.server.close()
        self.cut()


@pytest.fixture(scope="module")
def direct_url(request) -> str:
    """The gateway itself (the API calls of the test do not go through the relay)."""
    url = os.environ.get("AMP_BROWSER_BASE_URL")
    return url.rstrip("/") if url else request.getfixturevalue("stack").gateway_url.rstrip("/")


@pytest.fixture(scope="module")
def relay(direct_url) -> Iterator[Relay]:
    parts = urlsplit(direct_url)
    r = Relay(parts.hostname or "127.0.0.1", parts.port or 80)
    yield r
    r.close()


@pytest.fixture(scope="module")
def gateway_url(relay) -> str:
    """What the browser of these tests opens: the gateway through the relay."""
    return f"http://127.0.0.1:{relay.port}"


def timeline_ids(page) -> list[str]:
    return page.eval_on_selector_all("#timeline > li", "els => els.map(e => e.dataset.eventId)")


def test_a_dropped_stream_shows_reconnecting_and_resumes_without_duplicates(browser, relay, direct_url) -> None:
    page = browser.page
    client = Client(direct_url, timeout=60)
    try:
        project = client.create_project("Reconnecting stream (browser)")
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        gate = follow(client, ds, is_gate, timeout=LONG / 1000)[-1]
        assert gate[0] == "gate-waiting", gate

        page.goto(f"/#/ds/{ds}")
        state = page.locator("#stream-state")
        expect(state).to_have_attribute("data-state", "live", timeout=30_000)
        expect(page.locator("#approval-box")).to_be_visible(timeout=30_000)
        # the box comes from the decision set's status; the stream may still be replaying up to the gate
        expect(page.locator(f'#timeline > li[data-event-id="{gate[2]}"]')).to_be_attached(timeout=30_000)
        before = timeline_ids(page)
        assert before[-1] == str(gate[2]), (before, gate[2])
        assert before and len(before) == len(set(before))

        # the stream drops and stays away: the page says so, visibly
        page.route("**/streams/**", lambda route: route.abort("connectionrefused"))
        assert relay.cut() > 0
        expect(state).to_have_attribute("data-state", "reconnecting", timeout=15_000)
        expect(state).to_contain_text("reconnecting")
        expect(state).to_be_visible()
        browser.shot("stream-reconnecting")

        # the run goes on meanwhile: everything after the gate happens while the page is cut off
        client.approve(ds, "approved", "", waivers_for(gate[1]["policy"]))
        follow(client, ds, lambda ev, d: ev == "run-complete", last=int(before[-1]), timeout=LONG / 1000)
        expect(state).to_have_attribute("data-state", "reconnecting")
        assert timeline_ids(page) == before, "events arrived while the stream was blocked"

        # the stream comes back: it resumes after the last event shown, the indicator goes
        page.unroute("**/streams/**")
        expect(state).to_have_attribute("data-state", "finished", timeout=30_000)
        expect(state).not_to_contain_text("reconnecting")
        browser.shot("stream-resumed")

        ids = timeline_ids(page)
        assert len(ids) == len(set(ids)), "a timeline entry shown twice"
        assert ids[:len(before)] == before
        shown_types = set(page.eval_on_selector_all("#timeline > li", "els => els.map(e => e.dataset.type)"))
        expected = [str(e["number"]) for e in client.events(ds) if e["type"] in shown_types]
        assert ids == expected, "the resumed timeline differs from the decision set's events"
        assert browser.errors == []
    finally:
        client.close()
