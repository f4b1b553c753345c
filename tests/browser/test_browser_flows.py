"""The web page end to end in headless Chromium, against the real platform.

Quick Start with the live coverage meter, the SSE timeline and its Reason Cards, approving with a
comment that starts version 2 (followed automatically), approving that, its diff and zip; and an
intake question answered inline.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile

import pytest
from amp_cli.client import Client
from playwright.sync_api import expect

from tests.e2e.flows import follow, is_gate, waivers_for

pytestmark = pytest.mark.browser

FRAUD = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
         "99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. "
         "Retrain weekly.")
VAGUE = "Sentiment model behind an API, about 5 requests per second, budget $300/month"
OVER_BUDGET = ("Real-time recommendations on AWS us-east-1 at 20,000 requests per second with a 30 ms p95, 99.95% "
               "availability, GPU inference, containers. Internal data. Our budget is $200 per month.")
LONG = 180_000  # ms: a whole run (plan, critics, policy, codegen, validators) on a small machine


def ds_id(url: str) -> str:
    m = re.search(r"#/ds/([0-9a-f-]+)", url)
    assert m, url
    return m.group(1)


def timeline_ids(page) -> list[str]:
    return page.eval_on_selector_all("#timeline > li", "els => els.map(e => e.dataset.eventId)")


def test_quick_start_review_change_approve_diff_download(browser) -> None:
    page = browser.page
    page.goto("/")
    page.fill("#project-name", "Card fraud scoring (browser)")
    meter = page.locator("#coverage-meter")
    expect(meter).to_have_attribute("data-score", "0")

    # the meter follows the typing (debounced previews)
    textarea = page.locator("#requirements")
    first_part = FRAUD[:FRAUD.index("p95")]  # cloud and region only
    textarea.press_sequentially(first_part, delay=5)
    expect(meter).not_to_have_attribute("data-score", "0")
    partial = int(meter.get_attribute("data-score"))
    expect(page.locator("#coverage-missing .chip.missing").first).to_be_visible()
    browser.shot("coverage-partial")
    textarea.press_sequentially(FRAUD[len(first_part):], delay=2)
    page.wait_for_function("n => Number(document.querySelector('#coverage-meter').dataset.score) > n", arg=partial)
    expect(page.locator("#coverage-missing .chip")).to_have_count(0)
    expect(page.locator("#coverage-found")).to_contain_text("eu-west-1")
    browser.shot("coverage-complete")

    page.click("#submit-requirements")
    page.wait_for_url(re.compile(r"#/ds/"))
    v1 = ds_id(page.url)
    expect(page.locator("#ds-header h1")).to_contain_text("Version 1")
    expect(page.locator("#timeline > li").first).to_be_visible()
    expect(page.locator("#approval-box")).to_be_visible(timeout=LONG)
    browser.shot("timeline-waiting-approval")
    ids = timeline_ids(page)
    assert ids and len(ids) == len(set(ids)), ids  # de-duplicated by event id

    # a Reason Card renders its details only when opened
    card = page.locator("#timeline details.reason-card", has_text="Online serving:").first
    assert card.locator(".rc-body > *").count() == 0
    card.locator("summary").click()
    body = card.locator(".rc-body")
    for part in ("Options considered", "Choice and rationale", "Confidence and risks", "Provider and model"):
        expect(body).to_contain_text(part)
    expect(body.locator(".candidate").first).to_be_visible()
    browser.shot("reason-card-open")

    expect(page.locator("#what-happened")).to_contain_text("Policy")
    expect(page.locator("#policy-panel .rules li").first).to_be_visible()
    expect(page.locator("#cost-panel .bars li").first).to_be_visible()
    expect(page.locator("#architecture-diagram svg")).to_be_visible()
    # readable at the default size (drawn at least at its natural width, zoomable), and exportable as SVG
    natural, drawn = page.eval_on_selector("#architecture-diagram svg",
                                           "s => [s.viewBox.baseVal.width, s.getBoundingClientRect().width]")
    assert drawn >= natural * 0.99, (natural, drawn)
    page.click("#architecture-diagram button[aria-label='Zoom in']")
    assert page.eval_on_selector("#architecture-diagram svg", "s => s.getBoundingClientRect().width") > drawn
    with page.expect_download() as download:
        page.click("#diagram-download")
    assert download.value.suggested_filename.endswith(".svg")
    assert "<svg" in open(download.value.path(), encoding="utf-8").read()[:500]

    # approving with a comment that changes the constraints re-plans as version 2, which is followed
    page.fill("#approval-comment", "use eu-central-1 instead")
    page.click("#approve-button")
    page.wait_for_url(lambda url: "#/ds/" in url and v1 not in url, timeout=LONG)
    v2 = ds_id(page.url)
    expect(page.locator("#ds-header h1")).to_contain_text("Version 2")
    expect(page.locator("#approval-box")).to_be_visible(timeout=LONG)
    expect(page.locator("#requirements-panel")).to_contain_text("eu-central-1")
    expect(page.locator("#version-list a")).to_have_count(2)
    # the approval box is a review: what changed since v1 and why, the cost lines with their deltas
    review = page.locator("#approval-box #gate-review")
    expect(review.locator("#changed-by")).to_contain_text("your review comment")
    changed = review.locator("#review-constraints tr.changed")
    expect(changed).to_contain_text("eu-west-1")
    expect(changed).to_contain_text("eu-central-1")
    expect(review.locator("#review-cost-lines tbody tr").first).to_be_visible()
    expect(page.locator("#requirements-panel #text-overrides")).to_contain_text("eu-west-1 → eu-central-1")
    browser.shot("version-2-waiting-approval")

    waivers = page.locator("#approval-box .waivers input")
    for i in range(waivers.count()):
        waivers.nth(i).fill("Accepted for the browser test")
    page.click("#approve-button")
    expect(page.locator("#final-box")).to_contain_text("Done", timeout=LONG)
    expect(page.locator("#stream-state")).to_have_text("finished")
    expect(page.locator("#unified-diff .dl.add").first).to_be_visible(timeout=30_000)
    changes = page.locator("#constraint-changes")  # values, not only key names
    expect(changes).to_contain_text("eu-west-1")
    expect(changes).to_contain_text("eu-central-1")
    expect(page.locator("#diff-panel .diff-stats")).to_contain_text("added")
    browser.shot("version-2-diff")
    ids = timeline_ids(page)
    assert len(ids) == len(set(ids)), ids

    with page.expect_download() as download:
        page.click("#download-zip")
    with zipfile.ZipFile(download.value.path()) as z:
        assert len(z.namelist()) > 3, z.namelist()
    browser.shot("version-2-complete")

    # time travel: version 1 opens as it was and stays there (no auto-follow when replaying history)
    page.click("#version-list a[data-version='1']")
    expect(page.locator("#ds-header h1")).to_contain_text("Version 1")
    expect(page.locator("#final-box")).to_contain_text("Superseded")
    page.wait_for_timeout(1500)
    assert ds_id(page.url) == v1 and v2 != v1
    browser.shot("time-travel-version-1")
    assert not browser.errors, browser.errors


def test_intake_question_answered_inline(browser) -> None:
    page = browser.page
    page.goto("/")
    page.fill("#project-name", "Sentiment API (browser)")
    page.fill("#requirements", VAGUE)
    expect(page.locator("#coverage-missing")).to_contain_text("Regions")
    browser.shot("coverage-vague")
    page.click("#submit-requirements")
    page.wait_for_url(re.compile(r"#/ds/"))
    form = page.locator("#answers-form")
    expect(form).to_be_visible(timeout=LONG)
    browser.shot("intake-questions")

    for _ in range(3):  # the intake may ask a follow-up round
        if page.locator("#approval-box").is_visible():
            break
        questions = form.locator(".question")
        for i in range(questions.count()):
            q = questions.nth(i)
            field = q.get_attribute("data-field")
            if field == "cloud":
                q.get_by_label("aws", exact=True).check()
            elif field == "regions":
                for box in q.locator("input[type=checkbox]").all():
                    box.uncheck()
                q.locator("input.other-input").fill("eu-west-1")
            elif field == "data_classification":
                q.get_by_label("internal", exact=True).check()
        form.locator("button[type=submit]").click()
        page.wait_for_function(
            "() => document.querySelector('#approval-box') || "
            "(document.querySelector('#answers-form') && !document.querySelector('#answers-form button[type=submit]').disabled"
            " && document.querySelector('#ds-header h1').textContent.includes('waiting'))", timeout=LONG)
    expect(page.locator("#approval-box")).to_be_visible(timeout=LONG)
    expect(page.locator("#requirements-panel")).to_contain_text("eu-west-1")
    expect(page.locator("#timeline")).to_contain_text("Waiting for your answers")
    browser.shot("answered-waiting-approval")
    assert not browser.errors, browser.errors


def test_policy_fail_asks_for_waivers(browser) -> None:
    """A failed policy shows that approval needs a waiver (reason per failed rule) and sends them."""
    page = browser.page
    page.goto("/")
    page.fill("#project-name", "Over budget (browser)")
    page.fill("#requirements", OVER_BUDGET)
    expect(page.locator("#coverage-found .chip").first).to_be_visible()
    page.click("#submit-requirements")
    page.wait_for_url(re.compile(r"#/ds/"))
    box = page.locator("#approval-box")
    expect(box).to_be_visible(timeout=LONG)
    expect(page.locator("#policy-panel .rules li.fail[data-rule='budget_band']")).to_be_visible()
    waiver = box.locator(".waivers input[data-rule='budget_band']")
    expect(waiver).to_be_visible()
    page.click("#approve-button")  # no reason given: refused before anything is sent
    expect(box.locator("[role=alert]")).to_contain_text("budget_band")
    expect(waiver).to_be_focused()
    browser.shot("waivers-needed")
    for i in range(box.locator(".waivers input").count()):
        box.locator(".waivers input").nth(i).fill("Pilot budget approved by finance")
    page.fill("#approval-by", "cfo")
    page.click("#approve-button")
    expect(page.locator("#final-box")).to_contain_text("Done", timeout=LONG)
    expect(page.locator("#policy-panel .rules li[data-rule='budget_band']")).to_contain_text("waived")
    browser.shot("waived-and-generated")
    assert not browser.errors, browser.errors


def test_intake_never_leaves_a_dead_end(browser) -> None:
    """The path that used to strand a user: a churn model, gcp and pii picked in the first round, a region of
    another cloud typed in; the conflict question that follows offers gcp's regions and can be answered."""
    page = browser.page
    page.goto("/")
    page.fill("#project-name", "Churn (dead end)")
    page.fill("#requirements", "I need an ML model for churn")
    page.click("#submit-requirements")
    page.wait_for_url(re.compile(r"#/ds/"))
    form = page.locator("#answers-form")
    expect(form).to_be_visible(timeout=LONG)

    regions = form.locator(".question[data-field=regions]")
    expect(regions.locator("input[type=checkbox]:checked")).to_have_count(0)  # required: never pre-answered
    form.locator(".question[data-field=cloud]").get_by_label("gcp", exact=True).check()
    options = regions.locator("input[type=checkbox]")
    expect(options.first).to_be_visible()
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert values and all(not v.startswith(("us-east-", "eu-west-", "westeurope")) for v in values), values
    regions.locator("input.other-input").fill("us-east-1")  # a region of another cloud, typed by hand
    form.locator(".question[data-field=data_classification]").get_by_label("pii", exact=True).check()
    browser.shot("first-round")
    form.locator("button[type=submit]").click()

    conflict = page.locator("#answers-form .question[data-field=regions]")
    expect(conflict).to_contain_text("do not belong to gcp", timeout=LONG)
    boxes = conflict.locator("input[type=checkbox]")
    expect(boxes.first).to_be_visible()
    offered = [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]
    assert offered and not any(o.startswith("change ") for o in offered), offered
    browser.shot("conflict-question")
    page.locator("#answers-form button[type=submit]").click()  # nothing chosen: refused on the page, named
    expect(page.locator("#answers-form [role=alert]")).to_contain_text(re.compile("regions", re.I))
    boxes.first.check()
    page.locator("#answers-form button[type=submit]").click()

    for _ in range(3):  # later rounds ask only optional things: skipping them must work
        page.wait_for_function("() => document.querySelector('#approval-box') || "
                               "(document.querySelector('#skip-questions') && !document.querySelector('#skip-questions').disabled)",
                               timeout=LONG)
        if page.locator("#approval-box").is_visible():
            break
        page.click("#skip-questions")
    expect(page.locator("#approval-box")).to_be_visible(timeout=LONG)
    expect(page.locator("#requirements-panel")).to_contain_text(offered[0])
    browser.shot("reached-the-gate")
    assert not browser.errors, browser.errors


def test_a_failed_validation_is_shown_as_failed(browser, gateway_url) -> None:
    """An uploaded edit whose test fails: the next version's page says so, with the finding."""
    client = Client(gateway_url, timeout=60)

    def run_to_end(project_id: str, text: str) -> dict:
        ds = client.submit(project_id, text)["decision_set_id"]
        gate = follow(client, ds, is_gate, timeout=LONG / 1000)[-1]
        if gate[0] == "gate-waiting":
            client.approve(ds, "approved", "", waivers_for(gate[1]["policy"], "browser test", "t"))
        follow(client, ds, lambda ev, d: ev == "run-complete", timeout=LONG / 1000)
        return client.decision_set(ds)

    project = client.create_project("Failing validation (browser)")
    v1 = run_to_end(project["id"], FRAUD)
    with zipfile.ZipFile(io.BytesIO(client.artifact(v1["id"]))) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["services/serving/tests/test_owner_edit.py"] = (
        b"def test_an_owner_expectation_that_does_not_hold():\n    assert 1 + 1 == 3, 'owner expectation'\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    r = client.http.post(f"/projects/{project['id']}/repo", params={"base": v1["id"]}, content=buf.getvalue(),
                         headers={"Content-Type": "application/zip", "Idempotency-Key": str(uuid.uuid4())}, timeout=60)
    assert r.status_code == 201, r.text
    v2 = run_to_end(project["id"], FRAUD.replace("$6,000", "$6,500"))
    assert v2["reports"]["validation"]["overall"] == "fail", v2["reports"]["validation"]
    client.close()

    page = browser.page
    page.goto(f"/#/ds/{v2['id']}")
    final = page.locator("#final-box")
    expect(final).to_contain_text("did not pass validation")
    expect(final).not_to_contain_text("generated and validated")
    panel = page.locator("#validation-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("tr.tool-fail", has_text="pytest")).to_be_visible()
    expect(panel).to_contain_text("test_an_owner_expectation_that_does_not_hold")
    browser.shot("validation-failed")
    assert not browser.errors, browser.errors
