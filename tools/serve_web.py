"""Serve a folder on 127.0.0.1 with the headers that make its pages cross-origin isolated.

    python tools/serve_web.py FOLDER [--port 8000] [--no-isolation]

Isolation (COOP same-origin + COEP require-corp) lets a page use WebAssembly threads; with
--no-isolation the same page runs on one thread. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import sys
import time

from edgehelpers.webserve import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-isolation", action="store_true", help="no COOP/COEP headers: one thread only")
    args = parser.parse_args(argv)
    try:
        with serve(args.folder, isolated=not args.no_isolation, port=args.port) as url:
            print(f"serving {args.folder} at {url} ({'not ' * args.no_isolation}cross-origin isolated); Ctrl-C stops")
            while True:
                time.sleep(3600)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
