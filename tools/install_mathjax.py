"""Copy the parts of MathJax 3 the book uses into the built HTML, so math renders without internet.

`_config.yml` sets Sphinx's `mathjax_path` to `mathjax/es5/tex-chtml.js`, which Sphinx resolves
against `_static/` of the built book (and writes as a relative URL, so pages in sub-folders find
it too). This script puts the files there after `jupyter-book build`:

- `es5/tex-chtml.js`: the TeX-input, CommonHTML-output component (with the menu built in);
- `es5/output/chtml/fonts/woff-v2/`: the fonts that component loads, relative to itself;
- `es5/input/tex/extensions/`: TeX packages that MathJax's autoload fetches on first use
  (`\\boldsymbol`, `\\cancel`, `\\color`, ...);
- `es5/ui/` and `es5/a11y/`: the parts of the menu and the accessibility tools loaded on demand;
- the licence.

About 3 MB in all, instead of the 24 MB npm package. MathJax must not go into a source `_static/`
folder: Jupyter Book adds every .js file found there to every page.

It then checks that every page that loads MathJax points at a file that exists.

Usage: python tools/install_mathjax.py NODE_MODULES/mathjax HTML_DIR
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

DEST = Path("_static") / "mathjax"
FILES = ["es5/tex-chtml.js", "LICENSE", "package.json"]
DIRS = ["es5/output/chtml/fonts/woff-v2", "es5/input/tex/extensions", "es5/ui", "es5/a11y"]
SCRIPT_RE = re.compile(r"""<script[^>]+src=["']([^"']*mathjax[^"']*\.js)[^"']*["']""", re.IGNORECASE)


def install(src: Path, html: Path) -> Path:
    """Copy the needed MathJax files from the npm package `src` into `html/_static/mathjax`."""
    if not (src / "es5" / "tex-chtml.js").is_file():
        raise SystemExit(
            f"install_mathjax: no MathJax 3 at {src} (expected es5/tex-chtml.js); "
            "run `make setup`, which installs it with npm"
        )
    if not html.is_dir():
        raise SystemExit(f"install_mathjax: no built HTML at {html}; build the book first")
    dest = html / DEST
    if dest.exists():
        shutil.rmtree(dest)
    for rel in FILES:
        if (src / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dest / rel)
    for rel in DIRS:
        if (src / rel).is_dir():
            shutil.copytree(src / rel, dest / rel)
    version = json.loads((src / "package.json").read_text()).get("version", "?")
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"install_mathjax: MathJax {version} -> {dest} ({size / 1e6:.1f} MB)")
    return dest


def check(html: Path) -> list[str]:
    """Return one message per page whose local MathJax <script src> does not resolve to a file."""
    problems = []
    pages_with_mathjax = 0
    for page in sorted(html.rglob("*.html")):
        if DEST in page.relative_to(html).parents:
            continue
        for src in SCRIPT_RE.findall(page.read_text(encoding="utf-8", errors="replace")):
            parts = urlsplit(src)
            if parts.scheme or parts.netloc:
                problems.append(f"{page.relative_to(html)}: MathJax loaded from the network: {src}")
                continue
            pages_with_mathjax += 1
            target = (page.parent / parts.path).resolve()
            if not target.is_file():
                problems.append(f"{page.relative_to(html)}: MathJax script {src} -> {target} is missing")
    print(f"install_mathjax: {pages_with_mathjax} page(s) load the local MathJax")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, html = Path(argv[1]), Path(argv[2])
    install(src, html)
    problems = check(html)
    for line in problems:
        print(f"install_mathjax: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
