#!/usr/bin/env bash
# Check the offline workshop kit as a room without internet would use it:
#   1. build the kit (make offline-kit; needs PyPI and the data mirror in EDGEHELPERS_DATA);
#   2. clone this commit into a fresh folder and, inside a network namespace with no network
#      (unshare -n; only the loopback interface, which Jupyter's kernel needs), with pip's
#      configuration switched off and an empty model cache: run the kit's install.sh, build the
#      cached models the chosen chapters need (make teacher conversions indic slm) or copy in the teacher
#      this machine built (COPY_TEACHER=1: the workshop page's "build once, copy to each laptop"),
#      and run the chapters;
#   3. prove the namespace had no network (a request to PyPI must fail).
# Each stage's time and outcome go to $RECORD (tools/kit_check_report.py writes the workshop page's
# include from it).
#
#   bash tools/check_offline_kit.sh [chapter notebook ...]   (default: every chapter)
#
# Linux x86-64; as root (unshare -n), or as a user where user namespaces are allowed (unshare -rn).
# Environment: EDGEHELPERS_DATA (the data mirror the kit copies), PYTHON (the interpreter install.sh
# builds the laptop's .venv from, by absolute path: the namespace's PATH is /usr/local/bin:/usr/bin:/bin),
# OUT (default $TMPDIR/edge-kit-check; the laptop's folder is deleted after a passing check unless
# KEEP=1), RECORD (default $OUT/kit-check.json), KIT (default _build/offline-kit; an existing kit is
# reused when KIT_REUSE=1), MODELS (the make targets of the cached models to build, default all
# three; a single chapter needs fewer: chapters 0-6 and 9 only the teacher), COPY_TEACHER=1.
# Exit 3: this machine cannot make a network namespace (the check cannot run here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# outside the repository: in a clone nested under the book's own _build/, pytest collected no notebook
OUT="$(realpath -m "${OUT:-${TMPDIR:-/tmp}/edge-kit-check}")"
KIT="$(realpath -m "${KIT:-$ROOT/_build/offline-kit}")"
CHAPTERS=("$@")
[ "${#CHAPTERS[@]}" -gt 0 ] || mapfile -t CHAPTERS < <(cd "$ROOT/notebooks" && ls -1 ./*.ipynb | sed 's|^\./||')
: "${EDGEHELPERS_DATA:?set EDGEHELPERS_DATA to the data mirror the kit should carry}"
RECORD="$(realpath -m "${RECORD:-$OUT/kit-check.json}")"
UNSHARE=(unshare -n)
[ "$(id -u)" -eq 0 ] || UNSHARE=(unshare -rn)  # a user namespace where we are root, then a network one
if ! "${UNSHARE[@]}" -- true 2>/dev/null; then
    echo "cannot make a network namespace here (${UNSHARE[*]} failed): run as root, or allow user" \
        "namespaces (sysctl kernel.unprivileged_userns_clone=1)" >&2
    exit 3
fi

rm -rf "$OUT" && mkdir -p "$OUT" "$(dirname "$RECORD")"
LOG="$OUT/stages.tsv"  # stage, seconds, exit code
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)"  # the commit the laptop's clone gets
report() { KIT="$KIT" COMMIT="$COMMIT" python3 "$ROOT/tools/kit_check_report.py" json "$LOG" "$RECORD" "${CHAPTERS[@]}"; }
stage() {  # stage NAME COMMAND...: run, time and record one step; stop at the first failure
    local name="$1" t0=$SECONDS rc=0
    shift
    echo "=== [$(date -u +%H:%M:%S)] $name"
    "$@" || rc=$?
    printf '%s\t%s\t%s\n' "$name" "$((SECONDS - t0))" "$rc" >> "$LOG"
    echo "=== $name: exit $rc after $((SECONDS - t0)) s"
    if [ "$rc" -ne 0 ]; then
        report
        exit "$rc"
    fi
}

if [ "${KIT_REUSE:-0}" = 1 ] && [ -f "$KIT/manifest.json" ]; then
    stage "verify the kit" "$ROOT/.venv/bin/python" "$ROOT/tools/offline_kit.py" --verify --out "$KIT"
else
    stage "build the kit" "$ROOT/.venv/bin/python" "$ROOT/tools/offline_kit.py" --out "$KIT"
fi

WORK="$OUT/laptop"  # the participant's machine: a fresh clone, an empty cache, no network
stage "clone" git clone -q "$ROOT" "$WORK/book"
mkdir -p "$WORK/cache"

offline() {  # offline COMMAND: run in the clone with no network, a clean environment and the kit's data
    "${UNSHARE[@]}" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK" LANG=C.UTF-8 \
        PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 EDGEHELPERS_DATA="$KIT/data" \
        EDGEHELPERS_CACHE="$WORK/cache" PYTHON="${PYTHON:-python3.11}" \
        bash -c "ip link set lo up && cd '$WORK/book' && $1"
}

stage "no network inside" offline "! timeout 20 python3 -c 'import urllib.request; urllib.request.urlopen(\"https://pypi.org/simple/\", timeout=10)' 2>/dev/null"
stage "install.sh" offline "bash '$KIT/install.sh'"
if [ "${COPY_TEACHER:-0}" = 1 ]; then
    teacher="$("$ROOT/.venv/bin/python" -c 'from edgehelpers.models import teacher_path; print(teacher_path())')"
    [ -f "$teacher/model.safetensors" ] || { echo "no cached teacher at $teacher: run make teacher first" >&2; exit 2; }
    stage "copy the cached teacher in (built once on this machine)" \
        bash -c "mkdir -p '$WORK/cache/models' && cp -a '$teacher' '$WORK/cache/models/'"
fi
[ -z "${MODELS-teacher conversions indic}" ] ||
    stage "cached models (make ${MODELS-teacher conversions indic})" offline "make ${MODELS-teacher conversions indic}"
for nb in "${CHAPTERS[@]}"; do
    stage "chapter ${nb%.ipynb}" offline "CI=true .venv/bin/python -m pytest --nbmake --nbmake-timeout=600 -q -p no:cacheprovider notebooks/$nb"
done
report
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"  # gigabytes: the laptop's .venv and models
echo "kit check passed: $RECORD"
