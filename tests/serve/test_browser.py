"""The search page in a real headless Chromium (Debian's chromium + chromium-driver) driven by
Selenium, against `mixsearch serve` started as a user would start it.

Writes a screenshot of the page with results to the test's tmp folder, and also to
``$MIXSEARCH_SCREENSHOT`` when set (that is how docs/serve-page.png was made).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .server_helpers import free_port, wait_until_up

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 120


@pytest.fixture(scope="module")
def server_url(built_store: Path, tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    env = {**os.environ, "MIXSEARCH_THUMBNAIL_DIR": str(tmp_path_factory.mktemp("thumbs"))}
    cmd = [sys.executable, "-m", "mixsearch", "serve", str(built_store), "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs them with apt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(WAIT_S)
    yield driver
    driver.quit()


def _wait(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(condition, message)


def _cards(driver) -> list[dict]:
    """Each result card: id, modality badge, and whether its thumbnail has loaded."""
    return driver.execute_script(
        """return [...document.querySelectorAll('#results .card')].map(c => {
             const img = c.querySelector('img');
             return {id: c.dataset.id, modality: c.querySelector('.badge').textContent,
                     img: img ? {done: img.complete, width: img.naturalWidth} : null};
           });"""
    )


def _thumbnails_loaded(driver) -> list[dict] | bool:
    cards = _cards(driver)
    images = [c["img"] for c in cards if c["img"] is not None]
    return cards if images and all(i["done"] and i["width"] > 0 for i in images) else False


def _wait_for_image_model(url: str, timeout: float = 900.0) -> None:
    """The server loads the image model in the background after start-up (a minute on a busy
    machine): wait for it, so the image steps below measure the page, not the loading."""
    import time

    from .server_helpers import get_json

    deadline = time.monotonic() + timeout
    while get_json(url + "/healthz")[1]["image_model"] == "loading":
        assert time.monotonic() < deadline, "the image model did not load"
        time.sleep(0.5)


def _status(driver) -> str:
    return driver.find_element("id", "status").text


def test_search_page_end_to_end(server_url: str, browser, tmp_path: Path, corpus_dir: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.get(server_url + "/")
    box = browser.find_element("id", "q")
    box.send_keys("a cat", Keys.ENTER)
    cards = _wait(browser, _thumbnails_loaded, "result cards with loaded thumbnails")
    assert cards[0]["id"] == "chelsea.jpg"
    assert {c["modality"] for c in cards} == {"text", "image", "image+text"}
    assert all(c["img"] is None for c in cards if c["modality"] == "text")
    _wait(browser, lambda d: "documents" in d.find_element("id", "info").text, "store info")
    shot = tmp_path / "serve-page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("MIXSEARCH_SCREENSHOT"):
        shutil.copy(shot, os.environ["MIXSEARCH_SCREENSHOT"])

    # The modality filter re-runs the query with only image documents.
    browser.find_element("css selector", '#modality button[data-modality="image"]').click()
    _wait(
        browser,
        lambda d: (c := _cards(d)) and all(x["modality"] == "image" for x in c),
        "only image results",
    )
    browser.find_element("css selector", '#modality button[data-modality=""]').click()
    _wait_for_image_model(server_url)

    # Drop an image on the page: a File made from the bytes of a photo, in a DataTransfer.
    browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
           fetch('/api/thumbnails/rocket.jpg').then(r => r.blob()).then(blob => {
             const data = new DataTransfer();
             data.items.add(new File([blob], 'rocket.jpg', {type: 'image/jpeg'}));
             for (const type of ['dragenter', 'dragover', 'drop'])
               document.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true}));
             done();
           });"""
    )
    _wait(browser, lambda d: "image rocket.jpg" in _status(d), "the dropped image's results")
    cards = _wait(browser, _thumbnails_loaded, "thumbnails of the image query")
    assert cards[0]["id"] == "rocket.jpg"

    # The file picker does the same.
    browser.find_element("id", "image-input").send_keys(str(corpus_dir / "moon.jpg"))
    _wait(browser, lambda d: "image moon.jpg" in _status(d), "the picked image's results")
    assert _wait(browser, _thumbnails_loaded, "thumbnails")[0]["id"] == "moon.jpg"

    # "More like this" on a card, then paging.
    browser.find_element("css selector", '#results .card[data-id="astronaut.jpg"] .like').click()
    _wait(browser, lambda d: "more like astronaut.jpg" in _status(d), "more like this")
    assert "astronaut.jpg" not in [c["id"] for c in _cards(browser)]
    browser.find_element("id", "next").click()
    _wait(browser, lambda d: "results 13–" in _status(d), "the second page")
