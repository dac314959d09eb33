#!/usr/bin/env python3
"""Check the built book in a real browser, offline (run by .ci/run after the quick book build).

Serves ``_build/html`` on 127.0.0.1, opens pages in headless Chromium (Debian's ``chromium``, driven
by Selenium through Debian's ``chromium-driver``) and checks that
  (a) the maths is rendered by the vendored MathJax (``mjx-container`` elements, no errors),
  (b) the ipywidgets saved in a page are rendered by the vendored html-manager,
  (c) every frame panel (``vdib_core.widgets.frame_panel``) works without a kernel: every control
      saved in the page is rendered, and moving each control through all its values, as a reader
      does (clicking a toggle button, choosing in a dropdown, arrow keys on a slider), shows the frame
      of the new point: exactly one frame is visible, it is the one tagged with the point's value
      indices, and its pixels are the PNG saved in the page for that point,
  (e) every solution of an exercise (sphinx-exercise, ``:class: dropdown``) is folded when the page
      loads: only its title shows, and clicking its toggle opens it; and every exercise has a solution,
  (d) no request made by the page leaves the machine: in Chromium's network log, every request
      whose initiator is the page goes to 127.0.0.1/localhost (or is a data:/blob: URL).
      Chromium's own background traffic (component updater, network time, account checks; it has
      no initiator) is listed separately and ignored: a reader's browser does that anyway,
  (e) tables render: no page shows pipe-table text (a markdown table left as text, ``|---|---|``) outside
      its code cells' sources, and every page named with ``--require-table`` has at least one HTML
      ``<table>`` in its article,
  (f) the console is clean: a SEVERE message in the browser's console fails the page (warnings and
      local 404s are listed, informative),
  (h) no control that needs a kernel is offered: elements of class ``vdib-needs-kernel`` (a panel's
      "train this point now" button) are not displayed,
  (g) code does not run off the page: no code cell or text output (``pre``) is wider than its box at the
      window width of 1280 px (display maths that scrolls in its own box is listed, informative),
and saves screenshots (each page; each panel before and after its controls moved) under ``--out``
(default /tmp/vdib_offline_check).

Usage (from the repository root, after ``jupyter-book build .``):
    .venv/bin/python book/check_offline.py                 # book/01_spikes.html and index.html
    .venv/bin/python book/check_offline.py --all           # every page of the book
    .venv/bin/python book/check_offline.py --all --require-panel book/05_predictive_coding.html \
        --require-table book/06_mnist.html --require-table book/07_mnist_dvs.html

Needs ``apt-get install -y chromium chromium-driver`` (Debian) and the Python package selenium
(requirements.txt). Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    "--no-first-run",
    "--metrics-recording-only",
    "--hide-scrollbars",
    "--window-size=1280,1600",  # the width the book is checked at (figures legible, no clipped code)
]


def find_binary(names: tuple[str, ...], package: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(f"check_offline: {names[0]} not found (Debian: apt-get install -y {package})")


NOT_FOUND: set[str] = set()  # local paths the server answered 404 to, since the last page


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the output readable
            pass

        def send_error(self, code, message=None, explain=None):
            if code == 404:
                NOT_FOUND.add(self.path)
            super().send_error(code, message, explain)

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a browser that closed mid-answer is fine
                super().handle_error(request, client_address)

    handler = functools.partial(Quiet, directory=str(directory))
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def requested_urls(netlog: Path) -> list[tuple[str, str | None]]:
    """(url, initiator) of every URL request in a Chromium net log.

    Requests made by a page carry the page's origin as initiator; Chromium's own background
    traffic (component updater, network time, account checks) has none ("not an origin").
    """
    if not netlog.exists():
        raise RuntimeError(f"Chromium wrote no net log at {netlog}: the network check cannot be made")
    text = netlog.read_text(errors="replace").rstrip().rstrip(",")
    for suffix in ("", "]}", "}]}"):  # the log may lack its closing brackets if Chromium was killed
        try:
            log = json.loads(text + suffix)
            break
        except json.JSONDecodeError:
            continue
    else:
        raise RuntimeError(f"cannot parse Chromium net log {netlog}")
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    out = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if names.get(event.get("type")) == "URL_REQUEST_START_JOB" and "url" in params:
            initiator = params.get("initiator")
            if initiator in (None, "not an origin", "null") or \
                    str(initiator).startswith(("chrome://", "chrome-untrusted://", "chrome-search://")):
                initiator = None  # the browser's own pages (its new-tab page fetches from google.com)
            out.append((params["url"], initiator))
    return sorted(set(out))


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "file"):
        return False
    return (parts.hostname or "") not in LOCAL_HOSTS


# ---- tables --------------------------------------------------------------------------------------
PIPE_RULE = re.compile(r"\|[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)*\|")


def pipe_table_text(text: str) -> list[str]:
    """The lines of `text` that are the rule line of a markdown pipe table (``|---|:--:|``): a table that
    was shown as text instead of being rendered."""
    return [line.strip() for line in text.splitlines() if PIPE_RULE.search(line)]


# JavaScript: the page's text without its code cells' sources (where a table may be written as code),
# and its number of tables in the article
PAGE_TEXT_JS = """
const root = document.querySelector("article") || document.querySelector("main") || document.body;
const copy = root.cloneNode(true);
copy.querySelectorAll(".cell_input, script, style, textarea").forEach(e => e.remove());
return [copy.innerText || copy.textContent, root.querySelectorAll("table").length];
"""

# JavaScript: code boxes (pre) whose content is wider than the box, and display maths wider than its box
OVERFLOW_JS = """
const wide = e => e.scrollWidth > e.clientWidth + 1;
const text = e => (e.textContent || "").trim().split("\\n")[0].slice(0, 80);
return [Array.from(document.querySelectorAll("article pre")).filter(e => e.offsetParent && wide(e)).map(text),
        Array.from(document.querySelectorAll("article mjx-container[display='true']"))
             .filter(e => e.offsetParent && wide(e)).length];
"""


# ---- frame panels as saved in a page --------------------------------------------------------------
@dataclass
class Control:
    kind: str          # "slider", "toggle" or "dropdown"
    labels: list[str]  # the values, as shown
    index: int         # the value selected when the page loads


@dataclass
class Panel:
    pid: str                                                 # the panel id of its CSS classes
    controls: list[Control] = field(default_factory=list)
    frames: dict[tuple[int, ...], str] = field(default_factory=dict)  # value indices -> sha256 of the PNG


KINDS = {"SelectionSliderModel": "slider", "ToggleButtonsModel": "toggle", "DropdownModel": "dropdown"}


def saved_panels(html: str) -> list[Panel]:
    """The frame panels a page displays, from its saved widget state: their controls and the hash of every
    frame. (The state holds every widget the chapter created; only those under a saved view are shown.)"""
    states = re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html, re.S)
    models = {}
    for text in states:
        models.update(json.loads(text)["state"])
    views = re.findall(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', html, re.S)
    shown, todo = set(), [json.loads(v)["model_id"] for v in views]
    while todo:  # the displayed widgets and everything inside them
        mid = todo.pop()
        if mid in models and mid not in shown:
            shown.add(mid)
            todo += [ref.removeprefix("IPY_MODEL_") for ref in models[mid]["state"].get("children", [])]
    panels = []
    for mid, model in models.items():
        classes = model["state"].get("_dom_classes") or []
        if mid not in shown:
            continue
        if "vdib-panel" not in classes:
            continue
        pid = next(c for c in classes if c.startswith("vdib-panel-")).removeprefix("vdib-panel-")
        panel = Panel(pid)
        for ref in model["state"]["children"]:
            child = models[ref.removeprefix("IPY_MODEL_")]
            if "vdib-control" in (child["state"].get("_dom_classes") or []):
                if child["model_name"] not in KINDS:
                    raise RuntimeError(f"panel {pid}: unknown control {child['model_name']}")
                panel.controls.append(Control(KINDS[child["model_name"]], list(child["state"]["_options_labels"]),
                                              child["state"].get("index", 0)))  # 0 may be left out
        prefix = f"vdib-frame-{pid}-"
        for other in models.values():
            tag = next((c for c in other["state"].get("_dom_classes") or [] if c.startswith(prefix)), None)
            if tag:
                png = base64.b64decode(next(b["data"] for b in other["buffers"] if b["path"] == ["value"]))
                panel.frames[tuple(int(i) for i in tag.removeprefix(prefix).split("-"))] = hashlib.sha256(png).hexdigest()
        panels.append(panel)
    return panels


# ---- the browser ---------------------------------------------------------------------------------
def start_browser(chrome: str, driver_path: str, profile: Path, netlog: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager is not used (both paths given)
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in CHROME_FLAGS + [f"--user-data-dir={profile}", f"--log-net-log={netlog}",
                                "--net-log-capture-mode=Default"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_until_rendered(driver, timeout: float) -> None:
    """Wait for the page, MathJax's first typesetting, and the widgets (their count stable for 1 s)."""
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete", timeout, "the page")
    driver.set_script_timeout(timeout)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const mj = window.MathJax;
        if (mj && mj.startup && mj.startup.promise) { mj.startup.promise.then(() => done(true), () => done(false)); }
        else { done(false); }""")
    last = [-1, time.monotonic()]

    def stable():
        n = driver.execute_script("return document.querySelectorAll('.jupyter-widgets').length")
        if n != last[0]:
            last[:] = [n, time.monotonic()]
        return time.monotonic() - last[1] > 1.0

    wait_for(stable, timeout, "the widgets")


HASH_JS = """
const [img, done] = [arguments[0], arguments[arguments.length - 1]];
fetch(img.src).then(r => r.arrayBuffer()).then(b => crypto.subtle.digest("SHA-256", b))
  .then(h => done(Array.from(new Uint8Array(h)).map(x => x.toString(16).padStart(2, "0")).join("")))
  .catch(e => done("error: " + e));
"""


def visible_frames(driver, pid: str) -> list:
    return [el for el in driver.find_elements("css selector", f".vdib-panel-{pid} .vdib-frame") if el.is_displayed()]


def shown_point(driver, panel: Panel) -> tuple[int, ...] | None:
    """The value indices of the one visible frame of a panel (None if not exactly one is visible)."""
    frames = visible_frames(driver, panel.pid)
    if len(frames) != 1:
        return None
    prefix = f"vdib-frame-{panel.pid}-"
    tag = next((c for c in frames[0].get_attribute("class").split() if c.startswith(prefix)), None)
    return tuple(int(i) for i in tag.removeprefix(prefix).split("-")) if tag else None


def check_shows(driver, panel: Panel, expected: tuple[int, ...], moved: str, timeout: float = 5.0) -> str | None:
    """None if the panel shows the frame of `expected` (tag and pixels), else what went wrong."""
    try:
        wait_for(lambda: shown_point(driver, panel) == expected, timeout, "the frame")
    except TimeoutError:
        n = len(visible_frames(driver, panel.pid))
        return f"{moved}: expected the frame of point {expected}, the panel shows {shown_point(driver, panel)} ({n} visible frames)"
    img = visible_frames(driver, panel.pid)[0]
    wait_for(lambda: driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img),
             timeout, "the image to load")
    digest = driver.execute_async_script(HASH_JS, img)
    if digest != panel.frames.get(expected):
        return f"{moved}: the frame tagged {expected} does not show that point's saved PNG ({digest[:16]})"
    return None


def move(driver, element, control: Control, current: int, target: int) -> None:
    """Set a control to value `target` as a reader does."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    if control.kind == "toggle":
        element.find_elements("css selector", "button")[target].click()
    elif control.kind == "dropdown":
        Select(element.find_element("css selector", "select")).select_by_index(target)
    else:  # a slider: arrow keys on its handle, one step per value
        handle = element.find_element("css selector", ".noUi-handle")
        key = Keys.ARROW_RIGHT if target > current else Keys.ARROW_LEFT
        for _ in range(abs(target - current)):
            handle.send_keys(key)


def check_panel(driver, panel: Panel, shots: Path) -> list[str]:
    """Every control rendered; every value of every control shows the right frame. Returns the failures."""
    root = driver.find_elements("css selector", f".vdib-panel-{panel.pid}")
    if len(root) != 1 or not root[0].is_displayed():
        return [f"panel {panel.pid} is not rendered"]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", root[0])
    failures = []
    elements = []
    for k, control in enumerate(panel.controls):
        found = root[0].find_elements("css selector", f".vdib-control-{k}")
        parts = {"toggle": "button", "dropdown": "select option", "slider": ".noUi-handle"}[control.kind]
        n_parts = len(found[0].find_elements("css selector", parts)) if found else 0
        want = 1 if control.kind == "slider" else len(control.labels)
        if len(found) != 1 or not found[0].is_displayed() or n_parts != want:
            failures.append(f"control {k} ({control.kind}) not rendered ({n_parts} of {want} parts)")
        elements.append(found[0] if found else None)
    if failures:
        return failures
    point = [c.index for c in panel.controls]
    root[0].screenshot(str(shots.with_name(shots.stem + "__before.png")))
    failure = check_shows(driver, panel, tuple(point), "as loaded")
    failures += [failure] if failure else []
    n_moves = 0
    for k, (control, element) in enumerate(zip(panel.controls, elements)):
        n = len(control.labels)
        # every value: up from the current one, then down to the first (a slider steps through them all)
        targets = list(range(point[k] + 1, n)) + list(range(n - 2, -1, -1)) if n > 1 else []
        for target in targets:
            move(driver, element, control, point[k], target)
            point[k] = target
            n_moves += 1
            failure = check_shows(driver, panel, tuple(point), f"control {k} ({control.kind}) -> {control.labels[target]!r}")
            if failure:
                failures.append(failure)
                break  # the rest of this control's moves would only repeat the failure
    root[0].screenshot(str(shots.with_name(shots.stem + "__after.png")))
    print(f"  panel {panel.pid}: {len(panel.controls)} controls "
          f"({', '.join(f'{c.kind} of {len(c.labels)}' for c in panel.controls)}), {len(panel.frames)} frames, "
          f"{n_moves} moves checked  -> {'OK' if not failures else 'FAIL'}")
    return failures


def check_solutions(driver, timeout: float = 5.0) -> tuple[int, list[str]]:
    """(number of exercises, failures): every exercise has a solution; every solution is folded when the page
    loads (nothing but its title displayed) and opens when its toggle is clicked, as a reader does."""
    exercises = driver.find_elements("css selector", "div.exercise")
    solutions = driver.find_elements("css selector", "div.solution")
    failures = [] if len(solutions) == len(exercises) else [f"{len(exercises)} exercises but {len(solutions)} solutions"]
    for k, sol in enumerate(solutions):
        name = sol.get_attribute("id") or f"solution {k}"
        if "dropdown" not in (sol.get_attribute("class") or "").split():
            failures.append(f"{name}: not a dropdown")
            continue
        body = [el for el in sol.find_elements("xpath", "./*")
                if "admonition-title" not in (el.get_attribute("class") or "").split() and el.tag_name != "button"]
        if not body or any(el.is_displayed() for el in body):
            failures.append(f"{name}: {'empty' if not body else 'visible before the reader opens it'}")
            continue
        toggle = (sol.find_elements("css selector", "button.toggle-button")
                  or sol.find_elements("css selector", ".admonition-title"))[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", toggle)
        try:
            wait_for(lambda: any(el.is_displayed() for el in body), timeout, "the solution to open")
        except TimeoutError:
            failures.append(f"{name}: does not open when its toggle is clicked")
    return len(exercises), failures


def check_page(chrome: str, driver_path: str, base: str, page: str, out: Path, timeout: float,
               need_panel: bool, need_table: bool = False) -> bool:
    url = f"{base}/{page}"
    print(f"\n== {page}")
    html = urllib.request.urlopen(url).read().decode()
    panels = saved_panels(html)
    shot = out / (page.replace("/", "__").removesuffix(".html") + ".png")
    ok = True
    failures: list[str] = []
    console: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        netlog = Path(tmp) / "net.json"
        driver = start_browser(chrome, driver_path, Path(tmp) / "profile", netlog)
        try:
            driver.get(url)
            wait_until_rendered(driver, timeout)

            # (a) maths
            n_math, n_mjx, n_err = driver.execute_script("""return [
                document.querySelectorAll('.math.notranslate.nohighlight').length,
                document.querySelectorAll('mjx-container').length,
                document.querySelectorAll('mjx-merror, [data-mjx-error]').length]""")
            math_ok = (n_math == 0 or n_mjx >= n_math) and n_err == 0
            print(f"  math:    {n_math} math spans/divs, {n_mjx} rendered by MathJax, {n_err} MathJax errors"
                  f"  -> {'OK' if math_ok else 'FAIL'}")
            ok &= math_ok

            # (b) widgets
            n_views, n_rendered, n_slider = driver.execute_script("""return [
                document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
                document.querySelectorAll('.jupyter-widgets').length,
                document.querySelectorAll('.widget-slider, .widget-hslider, .widget-vslider').length]""")
            widgets_ok = n_views == 0 or n_rendered > 0
            print(f"  widgets: {n_views} saved views, {n_rendered} rendered widget elements "
                  f"({n_slider} sliders)  -> {'OK' if widgets_ok else 'FAIL'}")
            ok &= widgets_ok

            # (c) frame panels
            if need_panel and not panels:
                failures.append("no frame panel saved in this page (--require-panel)")
            for i, panel in enumerate(panels):
                failures += check_panel(driver, panel, out / f"{shot.stem}__panel{i}.png")
            # (e) exercises: solutions folded until opened
            n_ex, sol_failures = check_solutions(driver)
            if n_ex:
                print(f"  exercises: {n_ex}, each with a solution folded on load that opens on a click"
                      f"  -> {'OK' if not sol_failures else 'FAIL'}")
            failures += sol_failures
            driver.execute_script("window.scrollTo(0, 0)")

            # (e) tables
            text, n_tables = driver.execute_script(PAGE_TEXT_JS)
            pipes = pipe_table_text(text)
            tables_ok = not pipes and (n_tables > 0 or not need_table)
            print(f"  tables:  {n_tables} HTML tables, {len(pipes)} pipe-table rules shown as text"
                  f"{' (tables required)' if need_table else ''}  -> {'OK' if tables_ok else 'FAIL'}")
            failures += [f"pipe-table text shown instead of a table: {p[:80]!r}" for p in pipes[:5]]
            if need_table and not n_tables:
                failures.append("no HTML table in this page (--require-table)")

            # (h) kernel-only controls
            n_live = driver.execute_script(
                "return Array.from(document.querySelectorAll('.vdib-needs-kernel')).filter(e => e.offsetParent).length")
            if n_live:
                failures.append(f"{n_live} control(s) that need a kernel are displayed (class vdib-needs-kernel)")

            # (g) width
            wide_pre, wide_math = driver.execute_script(OVERFLOW_JS)
            print(f"  width:   {len(wide_pre)} code/output boxes wider than the page at 1280 px"
                  f"  -> {'OK' if not wide_pre else 'FAIL'}"
                  + (f"; {wide_math} display equations scroll in their box" if wide_math else ""))
            failures += [f"code box clipped at 1280 px: {w!r}" for w in wide_pre[:5]]

            driver.save_screenshot(str(shot))
            console = [(e.get("level"), e.get("message", "")) for e in driver.get_log("browser")
                       if e.get("level") in ("SEVERE", "WARNING")]
        except Exception as e:  # a page that does not render (time-out, browser error) fails; the others still run
            failures.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        finally:
            driver.quit()  # the net log is complete once the browser has exited
        reqs = requested_urls(netlog)
    for f in failures:
        print(f"    FAIL: {f}")
    ok &= not failures

    # (d) network: requests made by the page must all stay on 127.0.0.1
    page_reqs = [(u, i) for u, i in reqs if i is not None]
    external = sorted({u for u, _ in page_reqs if is_external(u)})
    background = sorted({u for u, i in reqs if i is None and is_external(u)})
    missing = sorted(NOT_FOUND)
    NOT_FOUND.clear()
    print(f"  network: {len(page_reqs)} requests from the page, {len(external)} leave the machine"
          f"  -> {'OK' if not external else 'FAIL'}")
    for u in external:
        print(f"    EXTERNAL: {u}")
    if background:
        hosts = sorted({urlsplit(u).hostname or u for u in background})
        print(f"    (ignored: Chromium's own background requests, not made by the page: {', '.join(hosts)})")
    for u in missing:
        print(f"    local 404: {u}")
    ok &= not external
    # (f) console: SEVERE fails, warnings are informative
    severe = sorted({m for level, m in console if level == "SEVERE"})
    print(f"  console: {len(severe)} SEVERE messages  -> {'OK' if not severe else 'FAIL'}")
    for level, message in sorted(set(console))[:20]:
        print(f"    console {'FAIL' if level == 'SEVERE' else level}: {message[:300]}")
    ok &= not severe
    print(f"  screenshot: {shot}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", help="pages relative to _build/html")
    parser.add_argument("--all", action="store_true", help="check every page under book/ and index.html")
    parser.add_argument("--require-panel", action="append", default=[], metavar="PAGE",
                        help="fail unless PAGE (also checked) holds a frame panel; repeatable")
    parser.add_argument("--require-table", action="append", default=[], metavar="PAGE",
                        help="fail unless PAGE (also checked) holds an HTML table; repeatable")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="built site")
    parser.add_argument("--out", type=Path, default=Path("/tmp/vdib_offline_check"), help="screenshots")
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait for a page to render")
    args = parser.parse_args()

    if not (args.html / "index.html").exists():
        sys.exit(f"check_offline: {args.html}/index.html not found; build the book first")
    if args.all:
        pages = ["index.html"] + sorted(
            str(p.relative_to(args.html)) for p in (args.html / "book").glob("*.html")
        )
    else:
        pages = args.pages or (["book/01_spikes.html", "index.html"] if not args.require_panel else [])
    pages += [p for p in args.require_panel + args.require_table if p not in pages]
    for p in pages:
        if not (args.html / p).is_file():
            sys.exit(f"check_offline: {args.html / p} not found")
    args.out.mkdir(parents=True, exist_ok=True)

    chrome = find_binary(("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"), "chromium")
    driver_path = find_binary(("chromedriver",), "chromium-driver")
    server, port = serve(args.html)
    try:
        results = {p: check_page(chrome, driver_path, f"http://127.0.0.1:{port}", p, args.out, args.timeout,
                                 p in args.require_panel, p in args.require_table) for p in pages}
    finally:
        server.shutdown()
    print("\n" + json.dumps({p: ("OK" if r else "FAIL") for p, r in results.items()}, indent=1))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
