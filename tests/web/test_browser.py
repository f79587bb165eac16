"""The cookbook's streaming page in a real browser: headless Chromium loads it, submits a text, and the
DOM is checked while the answer streams (slowed by the emulator's latency faults) and at the end.

Set `WEB_STREAM_SCREENSHOT=docs/img/web-stream.png` to save the mid-stream screenshot the docs show.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from instructor_az.emulator import Emulator, Fault

FIELDS = ["name", "company", "email", "city", "topics", "summary"]
SLOW = Fault.latency(0, chunk_seconds=0.04)  # 3-character deltas, 40 ms apart: about 2.5 s an answer

# Records, from the page's own DOM, each field row as it is added and each field as it is marked complete.
OBSERVE = """
window.__log = [];
new MutationObserver((mutations) => {
  for (const m of mutations) {
    if (m.type === "childList") {
      for (const n of m.addedNodes) if (n.classList && n.classList.contains("field")) __log.push(["row", n.dataset.field]);
    } else if (m.target.dataset.complete === "true" && m.oldValue !== "true") {
      __log.push(["complete", m.target.dataset.field]);
    }
  }
}).observe(document.getElementById("fields"),
           {childList: true, subtree: true, attributes: true, attributeFilter: ["data-complete"], attributeOldValue: true});
"""


def _submit(browser: Any, url: str, text: str = "Jane Doe (jane@acme.example), Acme Corp, Lisbon.") -> None:
    browser.get(url)
    browser.execute_script(OBSERVE)
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    browser.find_element(By.ID, "submit").click()


def _rows(browser: Any) -> list[dict[str, str]]:
    return browser.execute_script(
        """return [...document.querySelectorAll('#fields .field')].map((r) => ({
             field: r.dataset.field, complete: r.dataset.complete,
             value: r.querySelector('.value').textContent}));"""
    )


def _state(browser: Any) -> str:
    return browser.find_element(By.ID, "status").get_attribute("data-state")


def _wait(browser: Any, condition: Any, timeout: float = 20) -> Any:
    return WebDriverWait(browser, timeout, poll_frequency=0.02).until(lambda b: condition(b))


def test_fields_fill_in_order_and_are_marked_complete(
    browser: Any, web_url: str, web_emulator: Emulator, web_stream: ModuleType, tmp_path: Path
) -> None:
    web_emulator.inject(SLOW)
    web_emulator.scripted.push(web_stream.DEMO)
    _submit(browser, web_url)

    # Mid-stream: the name is final, later fields are still to come; the rows are a prefix of the model's order.
    rows = _wait(browser, lambda b: (r := _rows(b)) and r[0]["complete"] == "true" and r)
    assert [r["field"] for r in rows] == FIELDS[: len(rows)]
    assert len(rows) < len(FIELDS)
    assert rows[0] == {"field": "name", "complete": "true", "value": "Jane Doe"}
    assert _state(browser) == "streaming"

    # Later, still mid-stream: the email is complete and the city is being written. The docs' screenshot.
    rows = _wait(browser, lambda b: len(r := _rows(b)) >= 4 and r[2]["complete"] == "true" and r)
    assert [r["field"] for r in rows] == FIELDS[: len(rows)]
    assert len(rows) < len(FIELDS)
    assert [r["complete"] for r in rows[:3]] == ["true"] * 3
    last = rows[-1]  # being written: a prefix of its final value, shown before it is final
    assert last["complete"] == "false"
    assert web_stream.DEMO[last["field"]].startswith(last["value"])
    assert _state(browser) == "streaming"
    shot = Path(os.environ.get("WEB_STREAM_SCREENSHOT") or tmp_path / "web-stream.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000

    # The end: every field, in order, complete, with the validated values.
    _wait(browser, lambda b: _state(b) == "final")
    assert browser.find_element(By.ID, "status").text == "done: validated after 1 attempt"
    assert _rows(browser) == [
        {"field": "name", "complete": "true", "value": "Jane Doe"},
        {"field": "company", "complete": "true", "value": "Acme Corp"},
        {"field": "email", "complete": "true", "value": "jane@acme.example"},
        {"field": "city", "complete": "true", "value": "Lisbon"},
        {"field": "topics", "complete": "true", "value": "pricing, the API"},
        {"field": "summary", "complete": "true", "value": web_stream.DEMO["summary"]},
    ]
    log = browser.execute_script("return window.__log;")
    assert [f for kind, f in log if kind == "row"] == FIELDS
    assert [f for kind, f in log if kind == "complete"] == FIELDS
    assert browser.find_element(By.ID, "error").get_attribute("data-visible") == "false"
    assert len(web_emulator.requests) == 1


def test_a_reask_is_shown_then_the_corrected_answer(
    browser: Any, web_url: str, web_emulator: Emulator, web_stream: ModuleType
) -> None:
    web_emulator.inject(SLOW, times=2)
    web_emulator.scripted.push({**web_stream.DEMO, "email": "jane at acme"}, web_stream.DEMO)
    _submit(browser, web_url)

    status = _wait(browser, lambda b: _state(b) == "reasking" and b.find_element(By.ID, "status"))
    assert status.text.startswith("re-asking… (attempt 2): email: Value error, email must be an address")
    (reask,) = browser.find_elements(By.CSS_SELECTOR, "#reasks li.reask")
    assert reask.get_attribute("data-attempt") == "2"
    assert "attempt 1 failed validation" in reask.text
    # The second answer streams from the start, under attempt 2.
    _wait(
        browser, lambda b: b.find_element(By.ID, "fields").get_attribute("data-attempt") == "2" and _rows(b)
    )
    assert _rows(browser)[0]["field"] == "name"

    _wait(browser, lambda b: _state(b) == "final")
    assert browser.find_element(By.ID, "status").text == "done: validated after 2 attempts"
    rows = {r["field"]: r for r in _rows(browser)}
    assert list(rows) == FIELDS
    assert all(r["complete"] == "true" for r in rows.values())
    assert rows["email"]["value"] == "jane@acme.example"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#reasks li")) == 1
    assert len(web_emulator.requests) == 2


def test_a_content_filter_shows_the_error_view(
    browser: Any, web_url: str, web_emulator: Emulator, web_stream: ModuleType
) -> None:
    web_emulator.inject(SLOW)
    web_emulator.scripted.push(Fault.completion_filter(after_chars=60, violence="high"), web_stream.DEMO)
    _submit(browser, web_url)

    error = _wait(
        browser, lambda b: (e := b.find_element(By.ID, "error")).get_attribute("data-visible") == "true" and e
    )
    assert error.is_displayed()
    assert error.get_attribute("data-type") == "ContentFilterError"
    assert error.find_element(By.CSS_SELECTOR, ".type").text == "ContentFilterError"
    assert "content filter blocked the completion" in error.find_element(By.CSS_SELECTOR, ".message").text
    (category,) = error.find_elements(By.CSS_SELECTOR, ".categories li")
    assert category.get_attribute("data-category") == "violence"
    assert category.text == "violence (high)"
    assert _state(browser) == "error"
    # What passed before the filter stays on the page; nothing is presented as the final object.
    rows = _rows(browser)
    assert rows[0] == {"field": "name", "complete": "true", "value": "Jane Doe"}
    assert browser.find_element(By.ID, "fields").get_attribute("data-state") is None


def test_validation_exhausted_shows_the_error_view(
    browser: Any, web_url: str, web_emulator: Emulator, web_stream: ModuleType
) -> None:
    bad = {**web_stream.DEMO, "email": "nope"}
    web_emulator.scripted.push(bad, bad, bad)
    _submit(browser, web_url)

    error = _wait(
        browser, lambda b: (e := b.find_element(By.ID, "error")).get_attribute("data-visible") == "true" and e
    )
    assert error.get_attribute("data-type") == "InstructorRetryException"
    assert "3 attempts to get a valid Contact failed" in error.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#reasks li")) == 2
    assert len(web_emulator.requests) == 3
