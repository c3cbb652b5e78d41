"""Open every page of the built book in headless Chromium and check what a reader would see.

For every page in `_toc.yml` (and every chapter notebook must be one):

- the page loads with no uncaught JavaScript error, no console error and no failed request;
- no notebook cell shows an error or a traceback;
- every <img> has loaded, and a chapter that plots shows its figures;
- every block of code shows whole (no sideways scrolling; the column holds the line length
  tools/format_notebooks.py formats to), and no figure is shrunk by more than 1.5x;
- math is rendered by the book's own MathJax: no raw `$$`/`\\(`/`\\[` left, no MathJax error;
- a full-page screenshot is saved under `_build/screenshots/`.

Internal links (every href/src to another page, file or #anchor of the built book) are checked in
Python over the HTML files, without a browser.

The browser is Debian's `chromium` driven through `chromedriver`'s W3C WebDriver HTTP interface
with the standard library only (the Selenium client's dependencies clash with the pinned stack).
The book is served from 127.0.0.1; every other host is unresolvable for the browser, so a page
that needs the network to render fails here instead of passing on a connected machine.

Environment: BOOK_HTML (default `_build/html`), CHROMIUM (default /usr/bin/chromium),
CHROMEDRIVER (default /usr/bin/chromedriver), BOOK_SCREENSHOTS (default `_build/screenshots`),
BOOK_REQUIRE=1 (set by `make browser`): a missing book or browser fails instead of skipping.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from edgehelpers.browser import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM, WebDriver, missing_browser

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html")
if not HTML.is_absolute():
    HTML = ROOT / HTML
SCREENSHOTS = Path(os.environ.get("BOOK_SCREENSHOTS") or ROOT / "_build" / "screenshots")
EXECUTED = ROOT / "_build" / "src"  # the executed notebooks the book was rendered from
REQUIRE = os.environ.get("BOOK_REQUIRE", "") not in ("", "0", "false", "no")
# a figure drawn wider than the page is scaled down, and its labels with it: past this factor a
# 10-point label (14 px at the inline backend's 100 dpi) falls under about 9 px
MAX_FIGURE_SHRINK = 1.5
PLOT_CODE_RE = re.compile(r"\bplt\.(?:show|plot|subplots|figure|savefig|imshow|bar|scatter)\(|\.plot\(|plot_\w+\(")
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
EXTERNAL_SCHEMES = ("http", "https", "mailto", "ftp", "tel", "javascript", "data")


def _unavailable(reason: str):
    if REQUIRE:
        pytest.fail(f"{reason} (BOOK_REQUIRE is set, so this is a failure, not a skip)")
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------
# the book: pages of the table of contents, chapters


def toc_docnames() -> list[str]:
    """Every document of `_toc.yml`, in reading order (e.g. 'book/preface', 'notebooks/01_x')."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(str(Path(entry["file"]).with_suffix("")))
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [n.replace(os.sep, "/") for n in names]


def page_of(docname: str) -> Path:
    return HTML / f"{docname}.html"


def colab_url(docname: str) -> str:
    """The Colab launch URL of a notebook page, from _config.yml's repository and launch_buttons."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = urlsplit(config["repository"]["url"]).path.strip("/")
    branch = config["repository"].get("branch", "main")
    colab = config["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{repo}/blob/{branch}/{docname}.ipynb"


def chapter_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def figure_expectation(docname: str) -> tuple[int, str]:
    """(figures the page must show, why) for a notebook page, from the executed notebook."""
    executed = EXECUTED / f"{docname}.ipynb"
    source = ROOT / f"{docname}.ipynb"
    nb_path = executed if executed.is_file() else source
    if not nb_path.is_file():
        return 0, ""
    cells = json.loads(nb_path.read_text(encoding="utf-8")).get("cells", [])
    code = "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
    images = sum(
        1
        for c in cells
        for out in c.get("outputs", [])
        if any(m in out.get("data", {}) for m in IMAGE_MIMES)
    )
    if images:
        return images, f"the executed notebook {nb_path.relative_to(ROOT)} has {images} image output(s)"
    if PLOT_CODE_RE.search(code):
        return 1, f"{docname}.ipynb plots (matplotlib calls in its code)"
    return 0, ""


# --------------------------------------------------------------------------------------------
# a local server and a minimal WebDriver client


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        _unavailable(f"no built book at {HTML} (run `make book` first)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# Installed before any of the page's own scripts run: records what would otherwise be lost.
ERROR_HOOK = r"""
window.__bookErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t !== window && (t.src || t.href)) {
    window.__bookErrors.push('failed to load <' + t.tagName.toLowerCase() + '> ' + (t.src || t.href));
  } else {
    window.__bookErrors.push('uncaught ' + (e.error && e.error.stack ? e.error.stack : e.message) +
                             ' at ' + e.filename + ':' + e.lineno);
  }
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__bookErrors.push('unhandled promise rejection: ' + (e.reason && e.reason.stack || e.reason));
});
"""

# Waits for MathJax's first typesetting pass and for every image, then reports what the page shows.
INSPECT = r"""
var done = arguments[arguments.length - 1];
function settleImages(deadline) {
  var pending = Array.prototype.filter.call(document.images, function (i) { return !i.complete; });
  pending.forEach(function (i) { if (i.loading === 'lazy') i.loading = 'eager'; });
  if (pending.length === 0 || Date.now() > deadline) return Promise.resolve();
  return new Promise(function (r) { setTimeout(r, 100); }).then(function () { return settleImages(deadline); });
}
function mathjaxReady(deadline) {
  // wait (on a busy machine, a while) for MathJax to start and finish its first typesetting pass
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    var left = Math.max(0, deadline - Date.now());
    return Promise.race([MathJax.startup.promise, new Promise(function (r) { setTimeout(r, left); })]);
  }
  if (!document.querySelector('.math') || Date.now() > deadline) return Promise.resolve();
  return new Promise(function (r) { setTimeout(r, 200); }).then(function () { return mathjaxReady(deadline); });
}
function rawMath(root) {
  var found = [];
  var skip = 'PRE,CODE,SCRIPT,STYLE,TEXTAREA,MJX-CONTAINER,MJX-ASSISTIVE-MML';
  var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: function (n) {
      for (var p = n.parentElement; p; p = p.parentElement) {
        if (skip.indexOf(p.tagName) >= 0 || p.classList.contains('highlight')) return NodeFilter.FILTER_REJECT;
      }
      return NodeFilter.FILTER_ACCEPT;
    }
  });
  var inline = /\$[^$\n]{0,200}\\[a-zA-Z]+[^$\n]{0,200}\$/;
  for (var n = walker.nextNode(); n; n = walker.nextNode()) {
    var t = n.textContent;
    if (t.indexOf('$$') >= 0 || t.indexOf('\\(') >= 0 || t.indexOf('\\[') >= 0 || inline.test(t)) {
      found.push(t.trim().slice(0, 120));
    }
  }
  return found;
}
function codeFit(root) {
  // every block of code (cells, folded solutions, commands; not what cells printed): how many
  // characters its column shows, and whether it scrolls sideways
  var code = Array.prototype.filter.call(root.querySelectorAll('div.highlight pre'),
                                         function (pre) { return !pre.closest('.cell_output'); });
  return code.map(function (pre) {
    var style = getComputedStyle(pre);
    var probe = document.createElement('span');
    probe.textContent = 'x'.repeat(100);
    pre.appendChild(probe);
    var charWidth = probe.getBoundingClientRect().width / 100;
    pre.removeChild(probe);
    var inner = pre.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    var longest = (pre.textContent || '').split('\n').reduce(function (a, b) { return b.length > a.length ? b : a; }, '');
    return {chars: Math.floor(inner / charWidth), scrolls: pre.scrollWidth > pre.clientWidth + 1,
            longest: longest.slice(0, 100), fontSize: style.fontSize};
  });
}
function pageLoaded(deadline) {
  // on a loaded machine the driver can hand back control before the new document exists
  if ((document.readyState === 'complete' && document.body) || Date.now() > deadline) return Promise.resolve();
  return new Promise(function (r) { setTimeout(r, 100); }).then(function () { return pageLoaded(deadline); });
}
pageLoaded(Date.now() + 20000).then(function () { return mathjaxReady(Date.now() + 60000); }).then(function () { return settleImages(Date.now() + 30000); }).then(function () {
  var main = document.querySelector('main') || document.body;
  var text = function (e) { return (e.innerText || e.textContent || '').trim().slice(0, 600); };
  done({
    title: document.title,
    errors: window.__bookErrors || [],
    images: Array.prototype.map.call(document.images, function (i) {
      return {src: i.currentSrc || i.src, complete: i.complete, width: i.naturalWidth,
              shownWidth: i.getBoundingClientRect().width, inOutput: !!i.closest('.cell_output')};
    }),
    code: codeFit(main),
    tracebacks: Array.prototype.map.call(main.querySelectorAll('.output.traceback, .output.error'), text),
    stderr: Array.prototype.map.call(main.querySelectorAll('.output.stderr'), text),
    mathElements: main.querySelectorAll('.math').length,
    mjx: document.querySelectorAll('mjx-container').length,
    mathjaxVersion: (window.MathJax && MathJax.version) || null,
    mathErrors: Array.prototype.map.call(document.querySelectorAll('mjx-merror, [data-mjx-error]'),
      function (e) { return e.getAttribute('data-mjx-error') || e.textContent; }),
    untypeset: Array.prototype.filter.call(main.querySelectorAll('.math'),
      function (e) { return !e.querySelector('mjx-container'); }).map(text),
    rawMath: rawMath(main),
    links: Array.prototype.map.call(document.querySelectorAll('a[href]'), function (a) { return a.href; })
  });
});
"""

ERROR_IN_STDERR = re.compile(r"Traceback \(most recent call last\)|^\s*\w*(?:Error|Exception): ", re.MULTILINE)


@pytest.fixture(scope="module")
def browser():
    reason = missing_browser()
    if reason:
        _unavailable(reason)
    profile = tempfile.mkdtemp(prefix="book-chromium-")
    driver = WebDriver(CHROMEDRIVER, CHROMIUM, CHROME_FLAGS, profile)
    try:
        driver.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_HOOK})
        yield driver
    finally:
        driver.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def screenshots_dir():
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


# --------------------------------------------------------------------------------------------
# the tests


def test_every_chapter_is_a_page():
    if not (HTML / "index.html").is_file():
        _unavailable(f"no built book at {HTML} (run `make book` first)")
    docs = toc_docnames()
    missing_toc = [d for d in docs if not page_of(d).is_file()]
    assert not missing_toc, f"pages of _toc.yml missing from the built book {HTML}: {missing_toc}"
    notebooks = chapter_notebooks()
    assert notebooks, f"no chapter notebooks in {ROOT / 'notebooks'}"
    missing = [nb.name for nb in notebooks if not page_of(f"notebooks/{nb.stem}").is_file()]
    assert not missing, f"chapter notebooks without a page in the built book: {missing}"
    not_in_toc = [nb.name for nb in notebooks if f"notebooks/{nb.stem}" not in docs]
    assert not not_in_toc, f"chapter notebooks not in _toc.yml: {not_in_toc}"


def _capped(what: str, items: list[str], limit: int = 5) -> list[str]:
    lines = [f"{what}: {t!r}" for t in items[:limit]]
    if len(items) > limit:
        lines.append(f"{what}: ... and {len(items) - limit} more")
    return lines


def _layout_problems(report: dict) -> list[str]:
    """Code cut off at the page's edge, and figures shrunk to illegibility."""
    from tools.format_notebooks import LINE_LENGTH

    problems = []
    code = report.get("code", [])
    narrow = sorted({c["chars"] for c in code if c["chars"] < LINE_LENGTH})
    if narrow:
        problems.append(f"the code column shows only {narrow[0]} characters at this window width, fewer than the "
                        f"{LINE_LENGTH} tools/format_notebooks.py formats to (font size {code[0]['fontSize']}: "
                        "see _static/book.css)")
    problems += [f"a code block scrolls sideways (the page cuts it off); its longest line: {c['longest']!r}"
                 for c in code if c["scrolls"]][:5]
    for image in report["images"]:
        if image["inOutput"] and image["width"] > 0 and image["shownWidth"] > 0:
            shrink = image["width"] / image["shownWidth"]
            if shrink > MAX_FIGURE_SHRINK:
                problems.append(f"a figure is shrunk {shrink:.2f}x to fit the page ({image['width']} px drawn, "
                                f"{image['shownWidth']:.0f} px shown; at most {MAX_FIGURE_SHRINK}x): its labels become "
                                f"too small to read; draw it narrower or stack its panels ({image['src'][-60:]})")
    return problems


@pytest.mark.parametrize("docname", toc_docnames())
def test_page_renders(docname, site, browser, screenshots_dir):
    page = page_of(docname)
    if not page.is_file():
        pytest.fail(f"{docname}: no page {page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}")
    url = f"{site}/{docname}.html"
    browser.console_log()  # drop what earlier pages logged
    browser.get(url)
    try:
        report = browser.execute_async(INSPECT)
    except RuntimeError as err:  # a stalled renderer on a loaded machine: load the page once more
        if "script timeout" not in str(err):
            raise
        browser.console_log()  # what the stalled attempt logged is not the page's fault
        browser.get(url)
        report = browser.execute_async(INSPECT)
    console = [
        e.get("message", "")
        for e in browser.console_log()
        if e.get("level") == "SEVERE" and "/favicon.ico" not in e.get("message", "")  # the browser asks by itself
    ]
    shot = screenshots_dir / f"{docname}.png"
    browser.screenshot(shot)

    problems: list[str] = []
    problems += [f"JavaScript: {e}" for e in report["errors"]]
    problems += [f"console error: {m}" for m in console]
    problems += [f"a notebook cell shows an error:\n{t}" for t in report["tracebacks"]]
    problems += [
        f"a notebook cell printed an error to stderr:\n{t}" for t in report["stderr"] if ERROR_IN_STDERR.search(t)
    ]
    broken = [i["src"] for i in report["images"] if not (i["complete"] and i["width"] > 0)]
    problems += [f"image did not load: {src}" for src in broken]

    problems += _layout_problems(report)
    if docname.startswith("notebooks/"):
        want, why = figure_expectation(docname)
        shown = sum(1 for i in report["images"] if i["inOutput"] and i["complete"] and i["width"] > 0)
        if shown < want:
            problems.append(f"{why}, but the page shows {shown} loaded figure(s) in cell outputs")
        colab = colab_url(docname)
        if colab not in report["links"]:
            problems.append(f"no Colab launch link {colab}")

    has_math = report["mathElements"] > 0 or report["rawMath"]
    if has_math:
        if not report["mathjaxVersion"]:
            problems.append("the page has math but MathJax did not load (is it in _static/mathjax?)")
        elif report["mjx"] == 0:
            problems.append("the page has math but MathJax rendered none of it (no <mjx-container>)")
        problems += _capped("math not typeset", report["untypeset"])
        problems += _capped("raw math delimiters left in the text", report["rawMath"])
        problems += _capped("MathJax error", report["mathErrors"])

    assert not problems, f"{docname} ({url}, screenshot {shot}):\n- " + "\n- ".join(problems)


# --------------------------------------------------------------------------------------------
# internal links, in Python over the HTML files


class _LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for attr in ("href", "src"):
            value = attrs.get(attr)
            if value is None:
                continue
            if tag == "link" and attrs.get("rel") in ("preconnect", "dns-prefetch"):
                continue
            self.refs.append((tag, attr, value))


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _LinkParser:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def _book_pages() -> list[Path]:
    skip = {"_static", "_sources", "_images"}
    return sorted(p for p in HTML.rglob("*.html") if not skip & set(p.relative_to(HTML).parts))


def test_internal_links_resolve():
    if not (HTML / "index.html").is_file():
        _unavailable(f"no built book at {HTML} (run `make book` first)")
    broken: list[str] = []
    checked = 0
    root = HTML.resolve()
    for page in _book_pages():
        page = page.resolve()
        rel_page = page.relative_to(root)
        for tag, attr, value in _parse(page).refs:
            value = value.strip()
            parts = urlsplit(value)
            if parts.scheme in EXTERNAL_SCHEMES or parts.netloc or value.startswith("//"):
                continue
            if not parts.path and not parts.fragment:
                continue  # href="#" or href=""
            checked += 1
            if parts.path:
                target = (page.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
                try:
                    target.relative_to(root)
                except ValueError:
                    broken.append(f"{rel_page}: <{tag} {attr}={value!r}> points outside the book")
                    continue
                if not target.is_file():
                    broken.append(f"{rel_page}: <{tag} {attr}={value!r}> -> missing file {target.relative_to(root)}")
                    continue
            else:
                target = page
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in _parse(target).ids:
                broken.append(f"{rel_page}: <{tag} {attr}={value!r}> -> no anchor #{fragment} in {target.relative_to(root)}")
    assert checked, "no internal links found at all: is the book empty?"
    broken = list(dict.fromkeys(broken))
    assert not broken, f"{len(broken)} broken internal link(s) in {HTML}:\n- " + "\n- ".join(broken)


# --------------------------------------------------------------------------------------------
# the live page (book/browser_demo.md): the book's models in the reader's browser


def _web_bundle() -> dict:
    from edgehelpers.webbundle import verify_bundle

    if not (HTML / "web" / "models.json").is_file():
        _unavailable(f"no web bundle at {HTML / 'web'} (make html builds it)")
    return verify_bundle(HTML / "web")


def _python_logits(spec: dict, text: str):
    """(ids, logits) of `text` from Python: the bundle's own tokenizer files and ONNX file."""
    import numpy as np
    import onnxruntime
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(HTML / "web" / Path(spec["tokenizer"]).parent)
    enc = tok([text], truncation=True, max_length=spec["max_length"], return_tensors="np")
    sess = onnxruntime.InferenceSession(str(HTML / "web" / spec["model"]), providers=["CPUExecutionProvider"])
    ids = enc["input_ids"].astype(np.int64)
    feed = {i.name: (enc[i.name].astype(np.int64) if i.name in enc else np.zeros_like(ids)) for i in sess.get_inputs()}
    return ids[0].tolist(), sess.run(None, feed)[0][0]


def _type(browser, model: str, text: str) -> dict:
    """Choose `model`, type `text` as a reader would, and return the page's answer once it shows."""
    browser.execute("const s = document.getElementById('model'); if (s.value !== arguments[0]) {"
                    " s.value = arguments[0]; s.dispatchEvent(new Event('change')); }", model)
    browser.wait_for("window.edgeLast || window.edgeLastError")  # the model menu's own answer first
    browser.execute("window.edgeLast = null; window.edgeLastError = null;"
                    " const t = document.getElementById('text'); t.value = arguments[0];"
                    " t.dispatchEvent(new Event('input'));", text)
    browser.wait_for(f"(window.edgeLast && window.edgeLast.text === {json.dumps(text)} && window.edgeLast.model"
                     f" === {json.dumps(model)}) || (window.edgeLastError && document.getElementById('text').value"
                     f" === {json.dumps(text)})")
    return browser.execute("return {last: window.edgeLast, error: window.edgeLastError, answer:"
                           " document.getElementById('answer').textContent, note:"
                           " document.getElementById('note').textContent}")


LIVE_TEXTS = {"english": "Sensex falls 500 points as global markets slide",
              "indic": "भारत ने ऑस्ट्रेलिया को टेस्ट मैच में हराया"}


def test_live_page_answers_like_python(site, browser):
    """Typed into the page, a headline gets Python's ids, Python's class and (nearly) Python's logits."""
    import numpy as np

    manifest = _web_bundle()
    browser.get(f"{site}/web/index.html")
    browser.wait_for("window.edgeReady === true")
    assert not browser.execute("return window.edgeLastError"), "the page shows an error on load"
    assert "1 thread" in browser.execute("return document.getElementById('status').textContent"), \
        "a page served without isolation headers must say it runs on one thread"
    for model, text in LIVE_TEXTS.items():
        spec = manifest["models"][model]
        shown = _type(browser, model, text)
        assert not shown["error"], shown["error"]
        ids, logits = _python_logits(spec, text)
        assert shown["last"]["ids"] == ids, f"{model}: the page's token ids differ from Python's"
        assert shown["answer"] == spec["labels"][int(np.argmax(logits))], f"{model}: a different class than Python"
        assert np.abs(np.asarray(shown["last"]["logits"]) - logits).max() < 0.05


def test_live_page_explains_bad_input(site, browser):
    """Empty text and text over the model's length get a message in the page, not a blank answer."""
    manifest = _web_bundle()
    browser.get(f"{site}/web/index.html")
    browser.wait_for("window.edgeReady === true")
    empty = _type(browser, "english", "   ")
    assert empty["error"] and "empty" in empty["error"] and not empty["answer"]
    limit = manifest["models"]["english"]["max_length"]
    long = _type(browser, "english", "farmers sow paddy as the monsoon arrives early " * 40)
    assert not long["error"] and long["answer"], "a long text must still be classified"
    assert f"only the first {limit}" in long["note"], f"no truncation note: {long['note']!r}"


def test_live_page_names_a_missing_file(browser, tmp_path):
    """A bundle without its model file: the page says which file is missing and how to rebuild."""
    from edgehelpers.webserve import serve

    manifest = _web_bundle()
    copy = tmp_path / "web"
    shutil.copytree(HTML / "web", copy)
    (copy / manifest["models"]["english"]["model"]).unlink()
    with serve(copy, isolated=False) as url:
        browser.get(url + "index.html")
        browser.wait_for("window.edgeReady === true")
        error = browser.execute("return document.getElementById('error').textContent")
    assert "missing from the bundle" in error and "model.onnx" in error, error


def test_live_page_runs_inside_the_book(site, browser):
    """The book's page embeds the live page, and it answers there."""
    _web_bundle()
    browser.get(f"{site}/book/browser_demo.html")
    browser.wait_for("document.querySelector('iframe') && document.querySelector('iframe').contentWindow"
                     " && document.querySelector('iframe').contentWindow.edgeReady === true")
    label = browser.execute("return document.querySelector('iframe').contentWindow.edgeLast.label")
    labels = _web_bundle()["models"]["english"]["labels"]
    assert label in labels
