"""Read every page of the built site in a real browser, as a reader would: ``make test-browser``.

    python tests/browser/check_site.py [--site site] [--build] [--shots DIR] [--only TEXT]
                                       [--self-test]

The site (``site/``, built by ``make test`` just before; ``--build`` builds it first) is served on
127.0.0.1 and every page is opened in headless Chromium at 1280×900 and at 390×844, in the light
and the dark palette. A page fails on:

* a console error, or an image, font, script or style sheet that fails to load;
* any request leaving 127.0.0.1 (outside hosts are also made unresolvable, so none is sent);
* math left unrendered: ``\\(``, ``\\[`` or ``$$`` in the text (also in code annotations and
  tooltips) or a ``.katex-error``;
* at 1280 px, a code block or a display equation wider than its box;
* a link to a page the site does not have, or to an anchor its target does not define;
* figure text smaller than ``MIN_FIGURE_TEXT_PX`` on screen at 1280 px: every figure carries the
  pixel size of its smallest text in its PNG (``docs/hooks/draw_figures.py``); shown at
  ``displayed width / natural width`` of that, it must stay readable.

A screenshot of each page, viewport and palette goes to ``--shots`` (gitignored). ``--self-test``
plants one defect of each kind into a copy of one page and fails unless every one is reported.
Exit 0 when every page passes, 1 when one fails, 2 on bad usage (one line on stderr).
"""

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
VIEWPORTS = {"desktop": (1280, 900), "mobile": (390, 844)}
PALETTES = ("default", "slate")
MIN_FIGURE_TEXT_PX = 9.0
FIGURE_TEXT_KEY = "byhand:min-text-px"

# Runs in the page once math is rendered; returns what the checks need.
INSPECT = r"""
const out = {rawMath: [], katexErrors: 0, wideCode: [], wideMath: [], links: [], anchors: [],
             images: [], brokenImages: []};
const RAW = /\\\(|\\\[|\$\$/;
const inCode = (el) => el.closest('pre, code') && !el.closest('.md-tooltip__inner');
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  // rendered math keeps its TeX source in a MathML <annotation>: not raw text on the page
  if (!el || el.closest('script, style, noscript, .katex') || inCode(el)) continue;
  if (RAW.test(node.textContent)) out.rawMath.push(node.textContent.trim().slice(0, 80));
}
for (const el of document.querySelectorAll('[title], [data-md-tooltip]')) {
  const text = (el.getAttribute('title') || '') + (el.getAttribute('data-md-tooltip') || '');
  if (RAW.test(text)) out.rawMath.push('tooltip: ' + text.slice(0, 80));
}
// Code annotations: Material mounts each tooltip (with the id its marker links to) only while
// it is open, so open each in turn and look at it then.
const opened = new Set();
for (const note of document.querySelectorAll('.md-annotation')) {
  note.focus();
  await new Promise((resolve) => setTimeout(resolve, 120));
  for (const tip of note.querySelectorAll('.md-tooltip')) {
    if (tip.id) opened.add(tip.id);
    if (RAW.test(tip.textContent)) out.rawMath.push('annotation: ' + tip.textContent.slice(0, 80));
    if (tip.querySelector('.katex-error')) out.katexErrors += 1;
  }
  note.blur();
}
out.katexErrors += document.querySelectorAll('.katex-error').length;
document.querySelectorAll('.md-content pre > code').forEach((code, i) => {
  if (code.offsetParent === null) return;  // folded away (closed details): not on screen
  if (code.scrollWidth > code.clientWidth + 1) {
    const longest = code.innerText.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
    out.wideCode.push({block: i, need: code.scrollWidth, have: code.clientWidth,
                       line: longest.slice(0, 60)});
  }
});
document.querySelectorAll('.md-content .katex-display').forEach((box, i) => {
  if (box.offsetParent === null) return;
  const katex = box.querySelector('.katex');
  const need = katex ? katex.scrollWidth : box.scrollWidth;
  if (need > box.clientWidth + 1) out.wideMath.push({equation: i, need, have: box.clientWidth,
                                                     text: box.innerText.slice(0, 40)});
});
for (const a of document.querySelectorAll('a[href]')) {
  const href = a.getAttribute('href');
  if (href.startsWith('#')) {
    const id = decodeURIComponent(href.slice(1));
    if (id && !opened.has(id) && !document.getElementById(id) && !document.getElementsByName(id).length)
      out.anchors.push(href);
  } else out.links.push(a.href);
}
for (const img of document.querySelectorAll('.md-content img')) {
  if (!img.complete || img.naturalWidth === 0) { out.brokenImages.push(img.src); continue; }
  out.images.push({src: img.src, natural: img.naturalWidth, shown: img.clientWidth});
}
return JSON.stringify(out);
"""


class UsageError(Exception):
    pass


def png_text(path):
    """The ``tEXt`` chunks of a PNG as a dict."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return {}
    found, at = {}, 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if kind == b"tEXt" and b"\0" in body:
            key, value = body.split(b"\0", 1)
            found[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt" and b"\0" in body:
            key, rest = body.split(b"\0", 1)
            compressed, rest = rest[0], rest[2:]
            _lang, rest = rest.split(b"\0", 1)
            _translated, value = rest.split(b"\0", 1)
            value = zlib.decompress(value) if compressed else value
            found[key.decode("latin-1")] = value.decode("utf-8")
        at += 12 + length
    return found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site):
    """Serve ``site`` on 127.0.0.1 at a free port, in a thread; returns (server, base URL)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        raise UsageError(
            "needs Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver fonts-dejavu-core)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        # Outside hosts do not resolve: an outside request is seen (and fails) but never sent.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def pages(site, only=None):
    found = sorted(p.relative_to(site) for p in site.rglob("index.html"))
    found = [p for p in found if not str(p).startswith(("assets", "search", "vendor"))]
    if only:
        found = [p for p in found if only in str(p)]
    return found


def url_of(base, page):
    parent = page.parent.as_posix()
    return base if parent == "." else f"{base}{parent}/"


class Checker:
    def __init__(self, site, base, shots):
        self.site, self.base, self.shots = site, base, shots
        self.driver = browser()
        self._ids = {}

    def close(self):
        self.driver.quit()

    def _wait_for_math(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            done = self.driver.execute_script(
                "return document.readyState === 'complete' && "
                "document.body && document.body.dataset.mathRendered === '1'"
            )
            if done:
                return True
            time.sleep(0.05)
        return False

    def _target_ids(self, path):
        """Anchors defined by a built HTML file (ids and names)."""
        if path not in self._ids:
            import re

            text = path.read_text(errors="replace")
            self._ids[path] = set(re.findall(r"""\s(?:id|name)\s*=\s*["']([^"']+)["']""", text))
        return self._ids[path]

    def _check_link(self, link):
        parts = urlsplit(link)
        if parts.scheme in ("mailto", "data", "javascript") or not link.startswith(self.base):
            return None  # a link elsewhere is allowed; a *request* elsewhere is not
        rel = unquote(parts.path[len(urlsplit(self.base).path) :])
        target = self.site / rel
        if target.is_dir() or rel.endswith("/") or rel == "":
            target = target / "index.html"
        if not target.is_file():
            return f"link to a missing page: {link}"
        if parts.fragment and target.suffix == ".html":
            if unquote(parts.fragment) not in self._target_ids(target):
                return f"link to a missing anchor: {link}"
        return None

    def check(self, page):
        """Open ``page`` at both viewports and palettes; returns a list of problems."""
        url = url_of(self.base, page)
        problems = []
        name = page.parent.as_posix().replace("/", "_") or "home"
        for viewport, (width, height) in VIEWPORTS.items():
            self.driver.set_window_rect(width=width, height=height)
            self.driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            self.driver.get_log("performance")
            self.driver.get_log("browser")
            self.driver.get(url)
            if not self._wait_for_math():
                problems.append(f"{viewport}: math was not rendered within 15 s")
            found = json.loads(
                self.driver.execute_script(f"return (async () => {{{INSPECT}}})();")
            )
            for palette in PALETTES:
                self.driver.execute_script(
                    "document.body.setAttribute('data-md-color-scheme', arguments[0])", palette
                )
                time.sleep(0.05)
                if self.shots:
                    self.driver.save_screenshot(
                        str(self.shots / f"{name}-{viewport}-{palette}.png")
                    )
            problems += self._network(viewport)
            for entry in self.driver.get_log("browser"):
                if entry["level"] == "SEVERE":
                    problems.append(f"{viewport}: console error: {entry['message'][:160]}")
            for text in found["rawMath"]:
                problems.append(f"{viewport}: unrendered math: {text!r}")
            if found["katexErrors"]:
                problems.append(f"{viewport}: {found['katexErrors']} .katex-error element(s)")
            for src in found["brokenImages"]:
                problems.append(f"{viewport}: image failed to load: {src}")
            if viewport != "desktop":
                continue
            for wide in found["wideCode"]:
                problems.append(
                    f"code block {wide['block']} is {wide['need']} px wide in a "
                    f"{wide['have']} px box (e.g. {wide['line']!r})"
                )
            for wide in found["wideMath"]:
                problems.append(
                    f"equation {wide['equation']} is {wide['need']} px wide in a "
                    f"{wide['have']} px box ({wide['text']!r})"
                )
            problems += [
                f"anchor {href} has no target on the page" for href in found["anchors"]
            ]
            problems += [p for p in map(self._check_link, set(found["links"])) if p]
            problems += self._figures(found["images"])
        return problems

    def _network(self, viewport):
        problems, urls = [], {}
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            if method == "Network.requestWillBeSent":
                request_url = params["request"]["url"]
                urls[params["requestId"]] = request_url
                if not request_url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
                    problems.append(
                        f"{viewport}: request leaves 127.0.0.1: {request_url[:120]}"
                    )
            elif method == "Network.responseReceived":
                status = params["response"]["status"]
                if status >= 400:
                    problems.append(
                        f"{viewport}: HTTP {status} for {params['response']['url']}"
                    )
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                failed = urls.get(params["requestId"], params["requestId"])
                if failed.startswith("http://127.0.0.1"):
                    problems.append(
                        f"{viewport}: failed to load {failed} ({params['errorText']})"
                    )
        return problems

    def _figures(self, images):
        problems = []
        for image in images:
            if "/figures/" not in image["src"]:
                continue
            path = self.site / unquote(
                urlsplit(image["src"]).path[len(urlsplit(self.base).path) :]
            )
            text = png_text(path).get(FIGURE_TEXT_KEY)
            if text is None:
                problems.append(f"figure {path.name} carries no {FIGURE_TEXT_KEY} size")
                continue
            shown = float(text) * image["shown"] / image["natural"]
            if shown < MIN_FIGURE_TEXT_PX:
                problems.append(
                    f"figure {path.name}: smallest text {shown:.1f} px on screen "
                    f"({text} px drawn, shown at {image['shown']} of {image['natural']} px); "
                    f"minimum {MIN_FIGURE_TEXT_PX:g} px"
                )
        return problems


def run_checks(site, shots, todo, jobs=2):
    """Check ``todo`` (``jobs`` browsers side by side); ``{page: [problem, ...]}`` of failures."""
    import concurrent.futures

    server, base = serve(site)
    shares = [todo[i::jobs] for i in range(max(1, min(jobs, len(todo))))]

    def work(share):
        checker = Checker(site, base, shots)
        try:
            return {page: checker.check(page) for page in share}
        finally:
            checker.close()

    failures = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(len(shares)) as pool:
            for done in pool.map(work, shares):
                failures.update({p.parent.as_posix() or ".": v for p, v in done.items() if v})
    finally:
        server.shutdown()
    return dict(sorted(failures.items()))


# --- self-test: each kind of defect, planted into a copy of one page --------------------------
SELF_TEST_PAGE = "modules/linear"
PLANTS = {
    "broken math": "<p>\\(x^2 + \\frac{1}{2}\\)</p><p>\\(\\frac{1}{\\)</p>",
    "missing image": '<p><img src="../figures/no-such-figure.png" alt="missing"></p>',
    "too-wide equation": '<div class="arithmatex">\\['
    + " + ".join(f"x_{{{i}}}^{{2}}" for i in range(80))
    + "\\]</div>",
    "too-wide code line": '<div class="highlight"><pre><span></span><code>x = ['
    + ", ".join(str(i) for i in range(60))
    + "]\n</code></pre></div>",
    "outside request": '<p><img src="http://example.invalid/pixel.png" alt="outside"></p>',
}
EXPECT = {
    "broken math": ("unrendered math", "katex-error"),
    "missing image": ("no-such-figure",),
    "too-wide equation": ("equation",),
    "too-wide code line": ("code block",),
    "outside request": ("leaves 127.0.0.1",),
}


def self_test(site):
    """Plant each defect into a copy of one page; every one must be reported."""
    page = Path(SELF_TEST_PAGE) / "index.html"
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "site"
        shutil.copytree(site, copy)
        html = (copy / page).read_text()
        clean = run_checks(copy, None, [page], jobs=1)
        if clean:
            raise SystemExit(f"self-test: the unplanted page already fails: {clean}")
        for kind, snippet in PLANTS.items():
            planted = html.replace('<h1 id="', snippet + '<h1 id="', 1)
            assert planted != html, "no <h1> to plant before"
            (copy / page).write_text(planted)
            failures = run_checks(copy, None, [page], jobs=1)
            problems = " | ".join(sum(failures.values(), []))
            caught = any(word in problems for word in EXPECT[kind])
            print(
                f"self-test: planted {kind}: {'caught' if caught else 'MISSED'}: {problems[:200]}"
            )
            if not caught:
                missed.append(kind)
        (copy / page).write_text(html)
    return missed


def build(site):
    env = dict(os.environ)
    mkdocs = Path(sys.executable).with_name("mkdocs")
    subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        check=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default=str(ROOT / "site"))
    parser.add_argument("--build", action="store_true", help="build the site first")
    parser.add_argument("--shots", default=str(ROOT / ".cache" / "browser-shots"))
    parser.add_argument("--only", help="check only pages whose path contains this")
    parser.add_argument("--self-test", action="store_true", help="also plant and catch defects")
    parser.add_argument("--jobs", type=int, default=2, help="browsers side by side (default 2)")
    args = parser.parse_args(argv)
    site = Path(args.site)
    try:
        if args.build:
            build(site)
        if not (site / "index.html").is_file():
            raise UsageError(
                f"no built site at {site} (expected {site}/index.html; use --build)"
            )
        shots = Path(args.shots)
        shots.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        checked = pages(site, args.only)
        failures = run_checks(site, shots, checked, args.jobs)
        for page, problems in failures.items():
            for problem in problems:
                print(f"{page}: {problem}")
        print(
            f"browser check: {len(checked)} pages x {len(VIEWPORTS)} viewports x "
            f"{len(PALETTES)} palettes in {time.monotonic() - start:.0f} s; "
            f"{len(failures)} page(s) failing; screenshots in {shots}"
        )
        missed = self_test(site) if args.self_test else []
        if missed:
            print(f"self-test: planted defects not caught: {', '.join(missed)}")
        print(f"browser: {len(checked) - len(failures)} passed, {len(failures)} failed")
    except UsageError as error:
        print(f"check_site: {error}", file=sys.stderr)
        return 2
    return 1 if failures or missed else 0


if __name__ == "__main__":
    sys.exit(main())
