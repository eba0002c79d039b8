"""The audit console in a real browser: Debian's Chromium driven by Playwright.

The console only talks to the app's HTTP API; these tests still run on both sidecars
(localdapr and the real daprd), since the tampering goes through the sidecar's actor state
API. The host narrows `publish` to `alerts` and `orders`, so a `vent` command is denied by
the host.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import chromium
from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.support import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOCS = ROOT / "docs"
PROBE: dict[str, Any] = {
    "id": "probe",
    "version": 1,
    "objects": ["probe-*"],
    "data": {"temperature": 20.0, "threshold": 30.0},
    "evaluation": {"every": "1s"},
    "capabilities": {"write": ["temperature", "threshold"], "publish": ["alerts", "vents"]},
    "permissions": {
        "read": "'viewer' in caller.roles",
        "evaluate": "'ops' in caller.roles",
        "export": "caller.sub == 'ops'",
        "amend": "caller.sub == 'ops'",
    },
    "commands": {
        "report": {
            "params": {"temperature": "number"},
            "when": "'sensor' in caller.roles",
            "do": [{"set": {"temperature": "params.temperature"}}],
            "returns": "data.temperature",
        },
        "vent": {
            "params": {"reason": "string"},
            "do": [{"publish": {"topic": "vents", "data": "params.reason"}}],
        },
    },
    "rules": [
        {
            "name": "cool",
            # JSON has one number type: 20.0 is stored as 20, which CEL reads as an int.
            "when": "double(data.temperature) > double(data.threshold)",
            "do": [{"set": {"temperature": "double(data.temperature) - 1.0"}}],
        }
    ],
}


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, sidecar: str
) -> Iterator[ResidentHost]:
    workdir = tmp_path_factory.mktemp("console")
    limits = {"publish": ["alerts", "orders"]}
    with ResidentHost(workdir, trusted=[issuer], limits=limits, sidecar=sidecar) as running:
        assert isinstance(running, ResidentHost)
        yield running


@pytest.fixture(scope="module")
def ops(issuer: Issuer) -> str:
    return issuer.token("ops", "ops", "viewer", "sensor")


@pytest.fixture(scope="module")
def objects(host: ResidentHost, issuer: Issuer, ops: str) -> dict[str, str]:
    """Three probes and an order saga; the id of each, by role in the tests."""
    made = {"quiet": "probe-quiet", "busy": "probe-busy", "tamper": "probe-tamper"}
    for object_id in made.values():
        created = host.put_policy(object_id, issuer.sign(PROBE), ops)
        assert created.status_code == 201, created.text
    order = example("order")
    order["permissions"]["read"] = "'viewer' in caller.roles"
    assert host.put_policy("order-7", issuer.sign(order), ops).status_code == 201
    made["order"] = "order-7"
    return made


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab; the test fails on any script error or Content-Security-Policy violation
    (a refused API call's "Failed to load resource" is the API answering, not an error)."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    problems: list[str] = []
    try:
        tab = context.new_page()
        tab.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        tab.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if message.type == "error"
                and not message.text.startswith("Failed to load resource")
                else None
            ),
        )
        yield tab
    finally:
        context.close()
    assert problems == []


def sign_in(page: Page, host: ResidentHost, token: str, path: str = "") -> None:
    page.goto(f"{host.app_url}/console{path}")
    if page.evaluate("sessionStorage.getItem('resident.token')") == token:
        return
    page.get_by_label("Caller token (JWT)").fill(token)
    page.get_by_role("button", name="Sign in").click()


def open_object(page: Page, host: ResidentHost, token: str, object_id: str) -> None:
    sign_in(page, host, token, f"#/objects/{object_id}")
    expect(page.locator("#lineage-length")).to_contain_text("entries")


def timeline_seqs(page: Page) -> list[int]:
    return [
        int(s)
        for s in page.locator(".timeline .entry").evaluate_all(
            "nodes => nodes.map(n => n.dataset.seq)"
        )
    ]


def test_sign_in_and_find_an_object(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    page.goto(f"{host.app_url}/console")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.get_by_label("Caller token (JWT)").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("unauthenticated")

    sign_in(page, host, ops)
    expect(page.locator("#session")).to_contain_text("ops · https://issuer-x.example")
    assert page.evaluate("sessionStorage.getItem('resident.token')") == ops
    assert page.evaluate("localStorage.length") == 0
    page.get_by_label("Object id prefix").fill("probe-b")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.objects tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row.get_by_role("rowheader")).to_have_text(objects["busy"])
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("probe v1")
    row.get_by_role("link", name=objects["busy"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(objects["busy"])
    expect(page.locator(".data-slot")).to_contain_text("threshold: 30")


def test_the_listing_pages_through_objects_and_checks_each_chain(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    sign_in(page, host, ops, "#/objects?limit=3")
    shown = page.locator("table.objects tbody th")
    expect(shown).to_have_count(3)
    first = shown.all_inner_texts()
    expect(page.locator("td.chain").first).not_to_contain_text("checking")
    page.get_by_role("link", name="Next →").click()
    expect(shown).to_have_count(len(objects) - 3)
    second = shown.all_inner_texts()
    assert sorted(first + second) == sorted(objects.values())
    page.get_by_role("link", name="← Previous").click()
    expect(shown).to_have_count(3)
    assert shown.all_inner_texts() == first


def test_the_timeline_grows_after_a_command_and_after_its_own_cycles(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    object_id = objects["busy"]
    open_object(page, host, ops, object_id)
    before = host.show(object_id, ops)["lineage"]["length"]
    expect(page.locator(".timeline .entry").first).to_have_attribute("data-seq", str(before))

    form = page.locator("form[data-command=report]")
    form.get_by_label("temperature").fill("34")
    form.get_by_role("button", name="Run report").click()
    expect(page.locator("#action-output")).to_contain_text("Result: 34")
    command = page.locator(f"#entry-{before + 1}")
    expect(command).to_have_attribute("data-kind", "command")
    expect(command).to_contain_text("+ temperature = 34")
    expect(command).to_contain_text("ops · https://issuer-x.example")
    expect(command).to_contain_text("command: report")
    expect(command).to_contain_text("policy v1")

    # No click from here on: the object's reminder cools it a degree a cycle, and the page,
    # polling with its ETag, shows each cycle's entry as it lands.
    for step in range(1, 5):
        cycle = page.locator(f"#entry-{before + 1 + step}")
        expect(cycle).to_have_attribute("data-kind", "cycle", timeout=15_000)
        expect(cycle).to_contain_text(f"+ temperature = {34 - step}")
        expect(cycle).to_contain_text("reminder evaluate")
    expect(page.locator(".data-slot")).to_contain_text("temperature: 30", timeout=15_000)
    assert timeline_seqs(page)[0] == before + 5
    assert host.show(object_id, ops)["lineage"]["length"] == before + 5


def test_a_denial_is_shown_with_its_reason(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    object_id = objects["quiet"]
    open_object(page, host, ops, object_id)
    form = page.locator("form[data-command=vent]")
    form.get_by_label("reason").fill("smoke")
    form.get_by_role("button", name="Run vent").click()
    reason = "'pubsub/vents' is not allowed by the host limits"
    expect(page.locator("#action-output .denial")).to_contain_text(reason)

    page.get_by_label("Show").select_option("denied")
    denied = page.locator(".timeline .entry")
    expect(denied).to_have_count(1)
    expect(denied.first).to_have_attribute("data-kind", "denied")
    expect(denied.first.locator(".reason")).to_have_text(reason)
    (entry,) = [e for e in host.entries(object_id, ops) if e["kind"] == "denied"]
    assert entry["denied"][0]["reason"] == reason

    page.get_by_label("Show").select_option("command")
    expect(page.locator(".timeline .empty")).to_be_visible()


def test_a_command_the_policy_refuses_says_why(
    page: Page, host: ResidentHost, issuer: Issuer, objects: dict[str, str]
) -> None:
    viewer = issuer.token("vera", "viewer")
    open_object(page, host, viewer, objects["quiet"])
    form = page.locator("form[data-command=report]")
    form.get_by_label("temperature").fill("50")
    form.get_by_role("button", name="Run report").click()
    expect(page.locator("#action-output")).to_contain_text(
        "forbidden: command 'report' refused: when is false for this caller"
    )
    # Operations the policy denies this caller are not offered at all (dry-run needs `amend`).
    expect(page.locator("#evaluate")).to_have_count(0)
    expect(page.locator("#export")).to_have_count(0)
    expect(page.get_by_role("form", name="Dry-run a policy")).to_have_count(0)
    assert host.show(objects["quiet"], viewer)["data"]["temperature"] == 20.0


def test_export_downloads_the_bundle(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str], tmp_path: Path
) -> None:
    object_id = objects["quiet"]
    open_object(page, host, ops, object_id)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export bundle").click()
    assert download.value.suggested_filename == f"{object_id}.bundle.json"
    saved = tmp_path / "bundle.json"
    download.value.save_as(saved)
    bundle = json.loads(saved.read_text())
    assert bundle["format"] == "resident.bundle/1"
    assert bundle["object_id"] == object_id
    entries = host.entries(object_id, ops)
    assert bundle["head"] == entries[len(bundle["lineage"]) - 1]["hash"]
    # The export is itself recorded, and the page shows it without a reload.
    expect(page.locator(".timeline .entry").first).to_have_attribute("data-kind", "export")


def test_evaluate_now_runs_a_cycle(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    open_object(page, host, ops, objects["quiet"])
    cycles = host.show(objects["quiet"], ops)["cycles"]
    page.get_by_role("button", name="Evaluate now").click()
    expect(page.locator("#action-output")).to_contain_text("Evaluated")
    assert host.show(objects["quiet"], ops)["cycles"] > cycles


def test_the_policy_shows_how_the_host_narrows_it(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    open_object(page, host, ops, objects["quiet"])
    policy = page.locator(".policy")
    expect(policy).to_contain_text("https://issuer-x.example")
    digest = host.show(objects["quiet"], ops)["policy"]["digest"]
    expect(policy.locator(".digest")).to_have_text(digest)
    publish = policy.locator("table.caps tr", has_text="publish")
    expect(publish).to_contain_text("withheld by host: vents")
    policy.get_by_text("Policy document (YAML)").click()
    expect(policy.locator("pre")).to_contain_text(
        "when: double(data.temperature) > double(data.threshold)"
    )


def test_the_workflow_diagram_highlights_the_current_state(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    object_id = objects["order"]
    open_object(page, host, ops, object_id)
    current = page.locator("svg.diagram .state.current")
    expect(current).to_have_attribute("data-state", "awaiting_payment")
    expect(page.locator("svg.diagram .state")).to_have_count(5)
    form = page.get_by_role("form", name="Workflow event")
    form.get_by_label("Event").select_option("payment_received")
    form.get_by_label("Params (JSON object)").fill('{"payment_id": "pay-1", "amount": 89.9}')
    form.get_by_role("button", name="Send event").click()
    expect(current).to_have_attribute("data-state", "paid")
    page.get_by_label("Show").select_option("transition")
    expect(page.locator(".timeline .entry").first).to_contain_text("to: paid")


def tamper_entry(host: ResidentHost, object_id: str, seq: int, ops: str) -> None:
    """Rewrite one stored lineage entry through the sidecar's actor state API, as someone
    with access to the state store (not the object) could."""
    entry = host.entries(object_id, ops)[seq - 1]
    entry["who"] = {"iss": entry["who"].get("iss"), "sub": "mallory"}
    token = host.sdk_env()["DAPR_API_TOKEN"]
    response = httpx.post(
        f"{host.dapr_url}/v1.0/actors/ResidentObject/{object_id}/state",
        json=[{"operation": "upsert", "request": {"key": f"lineage-{seq:010d}", "value": entry}}],
        headers={"dapr-api-token": token},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    assert host.entries(object_id, ops)[seq - 1]["who"]["sub"] == "mallory"


def test_verify_flags_a_tampered_object(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    object_id = objects["tamper"]
    for temperature in (21, 22, 23):
        assert host.command(object_id, "report", ops, temperature=temperature).status_code == 200
    open_object(page, host, ops, object_id)
    page.get_by_role("button", name="Verify lineage").click()
    expect(page.locator("#verify-result")).to_contain_text("Lineage verifies")

    tamper_entry(host, object_id, 2, ops)
    page.get_by_role("button", name="Verify lineage").click()
    result = page.locator("#verify-result")
    expect(result).to_contain_text("Lineage does not verify")
    expect(result).to_contain_text("first bad entry #2")
    bad = page.locator(".timeline .entry.first-bad")
    expect(bad).to_have_count(1)
    expect(bad).to_have_attribute("data-seq", "2")
    expect(bad).to_contain_text("first bad entry")

    page.goto(f"{host.app_url}/console#/objects?prefix=probe-t")
    expect(page.locator("td.chain")).to_contain_text("broken at #2")


def test_without_a_token_the_console_is_only_its_static_shell(
    host: ResidentHost, objects: dict[str, str]
) -> None:
    shell = host.http.get("/console")
    assert shell.status_code == 200
    assert "default-src 'none'" in shell.headers["content-security-policy"]
    assert shell.headers["x-frame-options"] == "DENY"
    assert host.http.head("/console").status_code == 200
    script = host.http.get("/console/static/js/main.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert host.http.get("/console/config.json").json() == {"dev_signin": False}
    # Nothing under /console reads an object: the data routes want a token.
    assert host.http.post("/console/dev-token").status_code in {404, 405}
    for escape in ("/console/static/%2e%2e/etag.py", "/console/static/..%2Fetag.py"):
        assert host.http.get(escape).status_code == 404, escape
    for path in (
        "/objects",
        f"/objects/{objects['quiet']}",
        f"/objects/{objects['quiet']}/policy",
        f"/objects/{objects['quiet']}/lineage",
    ):
        refused = host.http.get(path)
        assert (path, refused.status_code, refused.json()["code"]) == (path, 401, "unauthenticated")


def test_a_caller_sees_only_what_the_api_shows_it(
    page: Page, host: ResidentHost, issuer: Issuer, objects: dict[str, str]
) -> None:
    stranger = issuer.token("sam", "sensor")  # no `viewer` role: may read nothing here
    sign_in(page, host, stranger)
    expect(page.locator(".listing .empty")).to_contain_text("No object you may read")
    page.goto(f"{host.app_url}/console#/objects/{objects['quiet']}")
    expect(page.locator(".summary-slot")).to_contain_text(
        "forbidden: the policy's `read` permission denies this caller"
    )
    expect(page.locator(".data-slot")).to_be_empty()
    expect(page.locator(".timeline .entry")).to_have_count(0)
    expect(page.locator(".policy")).to_have_count(0)
    refused = host.call("GET", f"/objects/{objects['quiet']}/policy", stranger)
    assert refused.status_code == 403


def test_an_expired_token_signs_the_caller_out(
    page: Page, host: ResidentHost, issuer: Issuer, objects: dict[str, str]
) -> None:
    brief = issuer.token("ops", "viewer", ttl=3)
    open_object(page, host, brief, objects["quiet"])
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=15_000)
    expect(page.locator(".signin")).to_contain_text("Signed out")
    assert page.evaluate("sessionStorage.getItem('resident.token')") is None


def test_the_dev_sign_in_exists_only_under_resident_dev(
    tmp_path: Path, issuer: Issuer, browser: Browser
) -> None:
    token = issuer.token("ops", "ops", "viewer")
    env = {"RESIDENT_DEV_TOKEN": token}
    with ResidentHost(tmp_path / "dev", trusted=[issuer], env=env) as dev:
        assert dev.http.get("/console/config.json").json() == {"dev_signin": True}
        rebound = dev.http.post("/console/dev-token", headers={"host": "evil.example"})
        assert rebound.status_code == 403
        assert "token" not in rebound.text
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{dev.app_url}/console")
            page.get_by_role("button", name="Dev sign-in (resident dev)").click()
            expect(page.get_by_role("heading", name="Objects")).to_be_visible()
            assert page.evaluate("sessionStorage.getItem('resident.token')") == token
        finally:
            context.close()


def test_every_control_is_labelled_and_a_phone_width_does_not_scroll_sideways(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str]
) -> None:
    open_object(page, host, ops, objects["quiet"])
    for _ in range(80):  # the keyboard reaches and runs an action, no pointer needed
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "evaluate":
            break
    page.keyboard.press("Enter")
    expect(page.locator("#action-output")).to_contain_text("Evaluated")

    open_object(page, host, ops, objects["order"])
    expect(page.locator("svg.diagram")).to_be_visible()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.textContent.trim())
            .map(el => el.outerHTML)"""
    )
    assert unlabelled == []
    assert low_contrast(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.locator(".timeline .entry").first).to_be_visible()
    wider = page.evaluate(
        """() => document.documentElement.scrollWidth <= innerWidth ? [] :
            [...document.querySelectorAll('main *')]
              .filter(e => e.getBoundingClientRect().right > innerWidth)
              .filter(e => !e.closest('pre, .table-wrap, .diagram-wrap'))
              .map(e => e.outerHTML.slice(0, 120))"""
    )
    assert wider == []


CONTRAST = (Path(__file__).parent / "contrast.js").read_text()


def low_contrast(page: Page) -> list[str]:
    """Text whose contrast with its background is below WCAG AA (4.5:1, 3:1 when large)."""
    failures: list[str] = page.evaluate(CONTRAST)
    return failures


def test_screenshots_of_the_main_views(
    page: Page,
    host: ResidentHost,
    issuer: Issuer,
    ops: str,
    objects: dict[str, str],
    tmp_path: Path,
) -> None:
    """README's pictures. RESIDENT_UPDATE_SCREENSHOTS=1 (`make screenshots`) copies them to
    docs/; otherwise they are taken and checked here, and the committed ones stay as they are."""
    shots: list[Path] = []

    def shoot(name: str, *, full_page: bool = True) -> None:
        path = tmp_path / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        shots.append(path)

    shown = "probe-shown"
    assert host.put_policy(shown, issuer.sign(PROBE), ops).status_code == 201
    assert host.command(shown, "report", ops, temperature=32.5).status_code == 200
    assert host.command(shown, "vent", ops, reason="smoke").status_code == 200
    sign_in(page, host, ops)
    expect(page.locator("td.chain").first).not_to_contain_text("checking")
    assert low_contrast(page) == []
    shoot("objects")
    open_object(page, host, ops, shown)
    expect(page.locator(".data-slot")).to_contain_text("temperature: 29.5", timeout=15_000)
    page.get_by_role("button", name="Verify lineage").click()
    expect(page.locator("#verify-result")).to_contain_text("Lineage")
    assert low_contrast(page) == []
    shoot("object")
    open_object(page, host, ops, objects["order"])
    expect(page.locator("svg.diagram .state.current")).to_be_visible()
    shoot("workflow")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot("phone", full_page=False)
    for path in shots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000, path
    if os.environ.get("RESIDENT_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        for path in shots:
            shutil.copy(path, DOCS / path.name)


def test_dry_run_of_an_uploaded_policy_shows_what_would_change_and_writes_nothing(
    page: Page, host: ResidentHost, ops: str, objects: dict[str, str], tmp_path: Path
) -> None:
    object_id = objects["quiet"]
    before = host.show(object_id, ops)
    candidate = {**PROBE, "version": 2}
    candidate["rules"] = [{**PROBE["rules"][0], "when": "double(data.temperature) > 10.0"}]
    upload = tmp_path / "probe-v2.yaml"
    upload.write_text(yaml.safe_dump(candidate))
    open_object(page, host, ops, object_id)
    form = page.get_by_role("form", name="Dry-run a policy")
    form.get_by_label("Policy file (signed JWS, or YAML/JSON)").set_input_files(upload)
    form.get_by_role("button", name="Dry-run").click()
    output = page.locator("#action-output")
    expect(output).to_contain_text("Dry-run of probe v2 (cycle)")
    expect(output).to_contain_text("+ temperature = 19")
    expect(output).to_contain_text("Installing it (signed) would be admitted for you.")
    after = host.show(object_id, ops)
    assert (after["data"], after["policy"]) == (before["data"], before["policy"])


def test_an_amendment_shows_live_and_older_entries_name_their_version(
    page: Page, host: ResidentHost, issuer: Issuer, ops: str
) -> None:
    object_id = "probe-amended"
    assert host.put_policy(object_id, issuer.sign(PROBE), ops).status_code == 201
    open_object(page, host, ops, object_id)
    expect(page.locator(".policy")).to_contain_text("version 1")
    assert host.put_policy(object_id, issuer.sign({**PROBE, "version": 2}), ops).status_code == 200
    expect(page.locator(".policy")).to_contain_text("version 2")
    newest = page.locator(".timeline .entry").first
    expect(newest).to_have_attribute("data-kind", "policy")
    expect(newest.locator(".policy-ref")).to_have_text("policy v2")
    expect(page.locator("#entry-1 .policy-ref")).to_have_text("policy v1 (earlier)")
