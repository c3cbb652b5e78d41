"""Build the book's web bundle: the page that runs chapter 9's and chapter 8's models in a browser.

    python tools/build_web_bundle.py DEST [--litert]

DEST is replaced whole (`make html` writes `_build/html/web`, the live page's folder). It needs the
pinned npm packages (`make setup`), chapter 9's artifact (run its notebook once) and chapter 8's
cached student (`make indic`); each missing piece stops it with the command that makes it.
"""

from __future__ import annotations

import argparse
import sys

from edgehelpers import webbundle
from edgehelpers.size import human_bytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--litert", action="store_true", help="add LiteRT.js and the .tflite files")
    args = parser.parse_args(argv)
    try:
        manifest = webbundle.build_bundle(args.dest, webbundle.book_models(), litert=args.litert)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"no web bundle: {err}", file=sys.stderr)
        return 2
    for name in manifest["models"]:
        weight = webbundle.page_weight(manifest, name)
        print(f"{args.dest}: {name} page weight {human_bytes(weight['total'])} "
              f"(wasm {human_bytes(weight['wasm'])}, model {human_bytes(weight['model'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
