"""Project settings in headless Chromium: add a webhook (its secret shown once), see its deliveries, disable it."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from tests.fakes.webhook_receiver import Receiver

pytestmark = pytest.mark.browser

FRAUD = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
         "99.9% availability, budget $6,000 per month. Internal data. Containers. Retrain weekly.")


def test_webhooks_on_the_project_settings_page(browser, gateway_url) -> None:
    page = browser.page
    with Receiver() as receiver, httpx.Client(base_url=gateway_url, timeout=30,
                                                 headers={"Authorization": f"Bearer {os.environ['AMP_TOKEN']}"}) as api:
        project = api.post("/projects", json={"name": "settings page"}).json()
        page.goto(f"/#/projects/{project['id']}")
        page.click("#project-settings-link")
        expect(page.locator("#settings-title")).to_contain_text("Settings of settings page")
        expect(page.locator("#webhook-list")).to_contain_text("No webhooks yet")
        page.fill("#webhook-url", receiver.url("/page"))
        page.fill("#webhook-description", "reviews channel")
        for t in ("gate.reminder", "gate.expired", "run.error", "budget.warning", "budget.paused", "run.complete"):
            page.uncheck(f"input[name=events][value='{t}']")
        page.click("#webhook-form button[type=submit]")
        secret = page.locator("#webhook-secret-value")
        expect(secret).to_contain_text("whsec_")
        shown = secret.inner_text().strip()
        card = page.locator("article.webhook")
        expect(card).to_contain_text(receiver.url("/page"))
        expect(card).to_contain_text("plan.ready, gate.waiting")
        browser.shot("webhook-added")
        page.click("text=I have stored it")
        expect(page.locator("#webhook-secret-value")).to_have_count(0)

        api.post(f"/projects/{project['id']}/constraints", json={"text": FRAUD})
        reqs = receiver.wait("/page", 2, timeout=180)
        assert {Webhook(shown).verify(r.body, r.headers)["type"] for r in reqs} == {"plan.ready", "gate.waiting"}
        hook = api.get(f"/projects/{project['id']}/webhooks").json()["webhooks"][0]
        deadline = time.monotonic() + 30
        while hook["deliveries"].get("delivered") != 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            hook = api.get(f"/projects/{project['id']}/webhooks").json()["webhooks"][0]
        card.locator("button", has_text="Deliveries").click()
        rows = card.locator("tbody tr")
        expect(rows).to_have_count(2)
        expect(card.locator("tbody")).to_contain_text("delivered")
        expect(card.locator("tbody")).to_contain_text("200")
        browser.shot("webhook-deliveries")
        card.locator("button", has_text="Disable").click()
        expect(page.locator("article.webhook")).to_contain_text("disabled")
        assert api.get(f"/projects/{project['id']}/webhooks").json()["webhooks"][0]["enabled"] is False
        assert not browser.errors, browser.errors
