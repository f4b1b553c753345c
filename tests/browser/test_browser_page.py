"""The page itself: 375 px wide without horizontal overflow, keyboard use, untrusted text rendered as text."""

from __future__ import annotations

import re

import pytest
from amp_cli.client import Client
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FRAUD = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
         "99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. "
         "Retrain weekly.")
XSS = "<img src=x onerror=alert(1)>"
LONG = 180_000


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 = no horizontal scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.viewport(375, 740)
def test_375px_wide_without_horizontal_overflow(browser, gateway_url) -> None:
    page = browser.page
    page.goto("/")
    page.fill("#requirements", FRAUD)
    expect(page.locator("#coverage-found .chip").first).to_be_visible()
    assert overflow(page) == 0
    # the product's name stays whole, on one line (the top bar's links wrap to a second row instead)
    assert page.eval_on_selector(".brand", "e => e.scrollWidth <= e.clientWidth && "
                                           "e.getBoundingClientRect().height < 1.6 * parseFloat(getComputedStyle(e).lineHeight)")
    shown = page.eval_on_selector_all("#new-project-name, #project-name",  # one project-name field, not two
                                      "els => els.filter(e => !e.closest('[hidden]')).map(e => e.id)")
    assert shown == ["project-name"], shown
    browser.shot("start-375")
    page.click("#nav-toggle")
    expect(page.locator("#sidebar")).to_be_visible()
    assert overflow(page) == 0
    page.click("#nav-toggle")

    client = Client(gateway_url, timeout=60)
    try:
        project = client.create_project("Narrow screen (browser)")
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
    finally:
        client.close()
    page.goto(f"/#/ds/{ds}")
    expect(page.locator("#approval-box")).to_be_visible(timeout=LONG)
    expect(page.locator("#architecture-diagram svg")).to_be_visible()
    # what is being approved reads without scrolling sideways: a first version has no "Before" column,
    # and every constraint's value lies inside the 375 px viewport
    assert page.locator("#review-constraints thead th").all_inner_texts() == ["Constraint", "Now"]
    assert page.eval_on_selector("#review-constraints", "t => { const w = t.closest('.table-wrap'); "
                                 "return w.scrollWidth <= w.clientWidth && [...t.querySelectorAll('tbody td')]"
                                 ".every(td => td.getBoundingClientRect().right <= window.innerWidth); }")
    page.locator("#timeline details.reason-card summary").first.click()
    assert overflow(page) == 0
    browser.shot("decision-set-375")


def test_keyboard_guided_setup(browser) -> None:
    """The wizard from GET /intake/schema, driven with the keyboard only."""
    page = browser.page
    page.goto("/")
    page.focus("#tab-quick")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-guided")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#tab-guided")).to_be_focused()
    expect(page.locator("#guided-form")).to_be_visible()
    page.focus("#wiz-cloud")
    page.select_option("#wiz-cloud", "aws")
    page.locator("#wiz-regions").fill("eu-west-1")
    page.keyboard.press("Enter")  # Next
    expect(page.locator("#guided-form legend").first).to_contain_text("Data")
    page.select_option("#wiz-data_classification", "internal")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#guided-form legend").first).to_contain_text("Workload")
    page.get_by_label("online", exact=True).check()
    page.get_by_role("button", name="Next").press("Enter")
    page.locator("#wiz-budget_monthly_usd").fill("2000")
    browser.shot("wizard-budget")
    for _ in range(5):
        if page.get_by_role("button", name="Plan it").count():
            break
        page.get_by_role("button", name="Next").press("Enter")
    page.fill("#project-name", "Guided (browser)")
    page.get_by_role("button", name="Plan it").press("Enter")
    page.wait_for_url(re.compile(r"#/ds/"))
    expect(page.locator("#requirements-panel")).to_contain_text("eu-west-1", timeout=LONG)
    browser.shot("wizard-submitted")
    assert not browser.errors, browser.errors


def test_untrusted_text_renders_as_text(browser) -> None:
    page = browser.page
    page.goto("/")
    page.fill("#project-name", XSS)
    text = f"Fraud model {XSS} on AWS eu-west-1, budget $1,000 per month. <script>window.__pwned = 1</script>"
    page.fill("#requirements", text)
    expect(page.locator("#coverage-found .chip").first).to_be_visible()
    page.locator("#coverage-highlight").evaluate("el => el.closest('details').open = true")
    expect(page.locator("#coverage-highlight")).to_contain_text(XSS)
    page.click("#submit-requirements")
    page.wait_for_url(re.compile(r"#/ds/"))
    expect(page.locator("#requirements-text")).to_have_text(text)
    expect(page.locator("#ds-header .crumbs")).to_have_text(XSS)
    expect(page.locator("#project-list")).to_contain_text(XSS)
    expect(page.locator("#timeline > li").first).to_be_visible(timeout=LONG)
    browser.shot("untrusted-text")
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#view script, #sidebar script").count() == 0
    assert page.evaluate("window.__pwned === undefined")
    assert not browser.errors, browser.errors  # no alert dialog, no script error


def test_sign_in_sign_out_and_a_bad_token(browser, gateway_url) -> None:
    """Signed out, the page sends you to the sign-in page; a bad token is refused there; the cookie is HttpOnly."""
    page = browser.page
    expect(page.locator("#whoami")).to_have_text("test-user")
    cookie = next(c for c in browser.context.cookies() if c["name"] == "amp_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # the page's scripts cannot read the session
    page.click("#sign-out")
    page.wait_for_url(re.compile(r"/signin$"))
    page.goto("/")
    page.wait_for_url(re.compile(r"/signin$"))
    page.fill("#signin-token", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.bm90LWEtc2lnbmF0dXJl")
    page.click("button[type=submit]")
    expect(page.locator("#signin-error")).to_be_visible()
    assert page.url.endswith("/signin")
    assert not [c for c in browser.context.cookies() if c["name"] == "amp_session"]
    assert not browser.errors, browser.errors
