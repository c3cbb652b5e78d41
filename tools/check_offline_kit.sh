#!/usr/bin/env bash
# Check the offline workshop kit as a room without internet would use it:
#   1. build the kit (make offline-kit; needs PyPI and the data mirror in EDGEHELPERS_DATA);
#   2. clone this commit into a fresh folder and, inside a network namespace with no network
#      (unshare -n; only the loopback interface, which Jupyter's kernel needs), with pip's
#      configuration switched off and an empty model cache: run the kit's install.sh, build the
#      cached models the chosen chapters need (make teacher conversions indic), and run the chapters;
#   3. prove the namespace had no network (a request to PyPI must fail).
# Each stage's time and outcome go to $OUT/kit-check.json (tools/kit_check_report.py writes the
# workshop page's include from it).
#
#   bash tools/check_offline_kit.sh [chapter notebook ...]   (default: every chapter)
#
# Runs as root (unshare -n needs it) on Linux x86-64. Environment: EDGEHELPERS_DATA (the data
# mirror the kit copies), OUT (default $TMPDIR/edge-kit-check), KIT (default _build/offline-kit; an
# existing kit is reused when KIT_REUSE=1), MODELS (the make targets of the cached models to build,
# default all three; a single chapter needs fewer: chapter 3 only the teacher).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# outside the repository: in a clone nested under the book's own _build/, pytest collected no notebook
OUT="$(realpath -m "${OUT:-${TMPDIR:-/tmp}/edge-kit-check}")"
KIT="$(realpath -m "${KIT:-$ROOT/_build/offline-kit}")"
CHAPTERS=("$@")
[ "${#CHAPTERS[@]}" -gt 0 ] || mapfile -t CHAPTERS < <(cd "$ROOT/notebooks" && ls -1 ./*.ipynb | sed 's|^\./||')
: "${EDGEHELPERS_DATA:?set EDGEHELPERS_DATA to the data mirror the kit should carry}"
[ "$(id -u)" -eq 0 ] || { echo "run as root: unshare -n needs it" >&2; exit 2; }

rm -rf "$OUT" && mkdir -p "$OUT"
LOG="$OUT/stages.tsv"  # stage, seconds, exit code
stage() {  # stage NAME COMMAND...: run, time and record one step; stop at the first failure
    local name="$1" t0=$SECONDS rc=0
    shift
    echo "=== [$(date -u +%H:%M:%S)] $name"
    "$@" || rc=$?
    printf '%s\t%s\t%s\n' "$name" "$((SECONDS - t0))" "$rc" >> "$LOG"
    echo "=== $name: exit $rc after $((SECONDS - t0)) s"
    if [ "$rc" -ne 0 ]; then
        python3 "$ROOT/tools/kit_check_report.py" json "$LOG" "$OUT/kit-check.json" "${CHAPTERS[@]}"
        exit "$rc"
    fi
}

if [ "${KIT_REUSE:-0}" = 1 ] && [ -f "$KIT/manifest.json" ]; then
    stage "verify the kit" "$ROOT/.venv/bin/python" "$ROOT/tools/offline_kit.py" --verify --out "$KIT"
else
    stage "build the kit" make -C "$ROOT" offline-kit
fi

WORK="$OUT/laptop"  # the participant's machine: a fresh clone, an empty cache, no network
stage "clone" git clone -q "$ROOT" "$WORK/book"
mkdir -p "$WORK/cache"

offline() {  # offline COMMAND: run in the clone with no network, a clean environment and the kit's data
    unshare -n -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK" LANG=C.UTF-8 \
        PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 EDGEHELPERS_DATA="$KIT/data" \
        EDGEHELPERS_CACHE="$WORK/cache" PYTHON="${PYTHON:-python3.11}" \
        bash -c "ip link set lo up && cd '$WORK/book' && $1"
}

stage "no network inside" offline "! timeout 20 python3 -c 'import urllib.request; urllib.request.urlopen(\"https://pypi.org/simple/\", timeout=10)' 2>/dev/null"
stage "install.sh" offline "bash '$KIT/install.sh'"
stage "cached models (make ${MODELS:-teacher conversions indic})" offline "make ${MODELS:-teacher conversions indic}"
for nb in "${CHAPTERS[@]}"; do
    stage "chapter ${nb%.ipynb}" offline "CI=true .venv/bin/python -m pytest --nbmake --nbmake-timeout=600 -q -p no:cacheprovider notebooks/$nb"
done
python3 "$ROOT/tools/kit_check_report.py" json "$LOG" "$OUT/kit-check.json" "${CHAPTERS[@]}"
echo "kit check passed: $OUT/kit-check.json"
