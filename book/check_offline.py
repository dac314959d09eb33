#!/usr/bin/env python3
"""Check that the built book works offline (a developer tool, not part of CI).

Serves ``_build/html`` on 127.0.0.1, opens pages in headless Chromium and checks that
  (a) the maths is rendered by the vendored MathJax (``mjx-container`` elements, no errors),
  (b) the ipywidgets saved in a page are rendered by the vendored html-manager,
  (c) no request made by the page leaves the machine: in Chromium's network log, every request
      whose initiator is the page goes to 127.0.0.1/localhost (or is a data:/blob: URL).
      Chromium's own background traffic (component updater, network time, account checks; it has
      no initiator) is listed separately and ignored: a reader's browser does that anyway,
and saves a screenshot of each page under ``--out`` (default /tmp/vdib_offline_check). It also
lists local 404s and the pages' console errors (informative, they do not fail the check).

Usage (from the repository root, after ``jupyter-book build .``):
    .venv/bin/python book/check_offline.py                 # book/01_spikes.html and index.html
    .venv/bin/python book/check_offline.py --all           # every page of the book
    .venv/bin/python book/check_offline.py book/02_encoding_snn.html

Needs Chromium (``apt-get install -y chromium`` on Debian). Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-default-browser-check",
    "--no-first-run",
    "--metrics-recording-only",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_offline: Chromium not found (Debian: apt-get install -y chromium)")


NOT_FOUND: set[str] = set()  # local paths the server answered 404 to, since the last page


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the output readable
            pass

        def send_error(self, code, message=None, explain=None):
            if code == 404:
                NOT_FOUND.add(self.path)
            super().send_error(code, message, explain)

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def run_chromium(
    chrome: str, url: str, extra: list[str], budget_ms: int
) -> tuple[str, str, list[tuple[str, str | None]]]:
    """Run headless Chromium once; return (stdout, stderr, requested URLs from the net log)."""
    with tempfile.TemporaryDirectory() as tmp:
        netlog = Path(tmp) / "net.json"
        cmd = [
            chrome,
            *CHROME_FLAGS,
            f"--user-data-dir={tmp}/profile",
            f"--log-net-log={netlog}",
            "--net-log-capture-mode=Default",
            f"--virtual-time-budget={budget_ms}",
            *extra,
            url,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        urls = requested_urls(netlog)
    return proc.stdout, proc.stderr, urls


def requested_urls(netlog: Path) -> list[tuple[str, str | None]]:
    """(url, initiator) of every URL request in a Chromium net log.

    Requests made by a page carry the page's origin as initiator; Chromium's own background
    traffic (component updater, network time, account checks) has none ("not an origin").
    """
    if not netlog.exists():
        return []
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
            if initiator in (None, "not an origin", "null"):
                initiator = None
            out.append((params["url"], initiator))
    return sorted(set(out))


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "file"):
        return False
    return (parts.hostname or "") not in LOCAL_HOSTS


def check_page(chrome: str, base: str, page: str, out: Path, budget_ms: int) -> bool:
    url = f"{base}/{page}"
    print(f"\n== {page}")
    dom, err1, urls1 = run_chromium(chrome, url, ["--dump-dom"], budget_ms)
    shot = out / (page.replace("/", "__").removesuffix(".html") + ".png")
    _, err2, urls2 = run_chromium(
        chrome, url, [f"--screenshot={shot}", "--window-size=1200,1600"], budget_ms
    )
    ok = True

    # (a) maths
    n_math = len(re.findall(r'class="math notranslate nohighlight"', dom))
    n_mjx = len(re.findall(r"<mjx-container", dom))
    n_err = len(re.findall(r"<mjx-merror|data-mjx-error", dom))
    math_ok = (n_math == 0 or n_mjx >= n_math) and n_err == 0
    print(f"  math:    {n_math} math spans/divs, {n_mjx} rendered by MathJax, {n_err} MathJax errors"
          f"  -> {'OK' if math_ok else 'FAIL'}")
    ok &= math_ok

    # (b) widgets
    n_views = len(re.findall(r'<script type="application/vnd.jupyter.widget-view\+json"', dom))
    n_rendered = len(re.findall(r'class="[^"]*\bjupyter-widgets\b', dom))
    n_slider = len(re.findall(r'class="[^"]*\bwidget-(?:h|v)?slider\b', dom))
    widgets_ok = n_views == 0 or n_rendered > 0
    print(f"  widgets: {n_views} saved views, {n_rendered} rendered widget elements "
          f"({n_slider} sliders)  -> {'OK' if widgets_ok else 'FAIL'}")
    ok &= widgets_ok

    # (c) network: requests made by the page must all stay on 127.0.0.1
    reqs = sorted(set(urls1 + urls2))
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

    # console errors and failed local loads (informative; a 404 is listed too)
    console = [
        line for line in (err1 + err2).splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line
    ]
    for line in sorted(set(console))[:20]:
        print(f"    console: {line[:300]}")
    print(f"  screenshot: {shot}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", help="pages relative to _build/html")
    parser.add_argument("--all", action="store_true", help="check every page under book/ and index.html")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="built site")
    parser.add_argument("--out", type=Path, default=Path("/tmp/vdib_offline_check"), help="screenshots")
    parser.add_argument("--budget-ms", type=int, default=10000, help="Chromium virtual-time budget")
    args = parser.parse_args()

    if not (args.html / "index.html").exists():
        sys.exit(f"check_offline: {args.html}/index.html not found; build the book first")
    if args.all:
        pages = ["index.html"] + sorted(
            str(p.relative_to(args.html)) for p in (args.html / "book").glob("*.html")
        )
    else:
        pages = args.pages or ["book/01_spikes.html", "index.html"]
    args.out.mkdir(parents=True, exist_ok=True)

    chrome = find_chromium()
    server, port = serve(args.html)
    try:
        results = {p: check_page(chrome, f"http://127.0.0.1:{port}", p, args.out, args.budget_ms) for p in pages}
    finally:
        server.shutdown()
    print("\n" + json.dumps({p: ("OK" if r else "FAIL") for p, r in results.items()}, indent=1))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
