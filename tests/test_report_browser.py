"""The report in a real headless Chromium (Debian's package, driven by Playwright): what a reviewer sees and clicks.

Skipped on a machine without /usr/bin/chromium unless CI is set, where .ci/run installs it and these must run."""

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline import report
from pipeline.local import run_local, write_output

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (see .ci/run)")
    pytest.skip("chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_report(browser, index: Path, shots: Path, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    events = {"errors": [], "requests": [], "dialogs": []}
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.on("request", lambda r: events["requests"].append(r.url))
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.goto(index.resolve().as_uri())
    page.wait_for_function("window.WT_READY === true", timeout=30000)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}-overview.png"))
    return page, events


def char_set(ranges):
    return {c for start, end in ranges for c in range(start, end)}


def test_overview_charts_click_and_exact_highlights(browser, sample_corpus, tmp_path):
    out = write_output(run_local([sample_corpus / "corpus"], run_id="r1"), tmp_path / "output", "r1")
    index = report.write_report(out)
    page, events = open_report(browser, index, out / "screenshots", "sample")
    assert page.locator(".chart .main-svg").count() >= 5  # five Plotly charts drew
    assert page.locator("#clusters tbody tr").count() == min(
        50,
        len(
            json.loads(
                (index.parent / "data" / "overview.js").read_text(encoding="utf-8").split("= ", 1)[1].rstrip(";\n")
            )["clusters"]
        ),
    )
    page.locator("#clusters tbody tr").first.click()
    page.wait_for_selector("#cluster:not([hidden])")
    page.wait_for_selector("#right mark")
    page.screenshot(path=str(out / "screenshots" / "sample-cluster.png"))
    left, right = page.get_attribute("#left", "data-doc"), page.get_attribute("#right", "data-doc")
    a, b = sorted([left, right])
    spans = duckdb.sql(
        f"SELECT spans FROM '{out}/pairs/*.parquet' WHERE doc_id_a = '{a}' AND doc_id_b = '{b}'"
    ).fetchall()[0][0]
    side = {
        left: ("a_start", "a_end") if left == a else ("b_start", "b_end"),
        right: ("a_start", "a_end") if right == a else ("b_start", "b_end"),
    }
    for element, doc in (("#left", left), ("#right", right)):
        marks = page.locator(f"{element} mark").evaluate_all(
            "ms => ms.map(m => [Number(m.dataset.start), Number(m.dataset.end)])"
        )
        expected = [(s[side[doc][0]], s[side[doc][1]]) for s in spans]
        assert char_set(marks) == char_set(expected), element
    assert events["errors"] == [] and events["dialogs"] == []
    assert all(url.startswith("file://") for url in events["requests"])


NASTY = [
    '<script>window.PWNED = 1; alert("x")</script>',
    '<img src=x onerror="window.PWNED = 2">',
    '<a href="javascript:window.PWNED = 3">click</a>',
    "</textarea><svg onload=window.PWNED=4>",
    "</script><script>window.PWNED = 5</script>",
]


def test_injected_markup_never_runs(browser, tmp_path):
    story = " ".join(
        f"Sentence {i} of the wire story about the border, with enough words to be copied." for i in range(12)
    )
    rows = [
        {
            "id": f"n{i}",
            "source": NASTY[i % len(NASTY)],
            "title": NASTY[(i + 1) % len(NASTY)],
            "published_at": f"2024-03-0{i + 1}T10:00:00Z",
            "text": f"{NASTY[i]}\n\n{story}\n\n{NASTY[(i + 2) % 5]}",
        }
        for i in range(4)
    ]
    corpus = tmp_path / "nasty.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    out = write_output(run_local([corpus], run_id="r1"), tmp_path / "output", "r1")
    index = report.write_report(out)
    page, events = open_report(browser, index, out / "screenshots", "injection")
    page.locator("#filter").fill("<script>")
    page.locator("#filter").fill("")
    page.locator("#clusters tbody tr").first.click()
    page.wait_for_selector("#cluster:not([hidden])")
    page.wait_for_timeout(300)
    page.screenshot(path=str(out / "screenshots" / "injection-cluster.png"))
    assert page.evaluate("window.PWNED") is None
    assert events["dialogs"] == [] and events["errors"] == []
    shown = page.locator("#left").text_content() + page.locator("#right").text_content()
    assert "<script>" in shown or "<img" in shown or "</textarea>" in shown  # shown as text, not run
    assert page.locator("#cluster img, #cluster svg[onload], #cluster a[href^='javascript']").count() == 0
    assert all(url.startswith("file://") for url in events["requests"])
