"""Make the PyPI torchvision wheel importable next to a CPU-only torch, so that `import timm` works.

The torchvision wheel on PyPI is built against CUDA torch. Its C extension (`_C.so`) cannot load
next to the CPU build of torch, which torchvision tolerates, except for two fake-kernel
registrations (`torchvision::nms`, `torchvision::qnms`) that it applies unconditionally and that
fail with "operator torchvision::nms does not exist". This script guards those two registrations
with the same `_has_ops()` check torchvision already uses for all the others. It is idempotent,
changes nothing when torchvision already imports, and verifies the result in a fresh interpreter.

Only the detection ops (nms, roi_align, ...) stay unavailable; they raise torchvision's own clear
error if called. Transforms, models and everything timm uses work.

Usage: python tools/cpu_torchvision.py   (run by `make` right after pip install)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

MARKER = "# edgehelpers: guarded for CPU-only torch"
GUARD = f'''
{MARKER}
def _register_fake_if_ops(op_name):
    """Register a fake kernel only when torchvision's C extension (and so the op) was loaded."""
    def wrapper(fn):
        if torchvision.extension._has_ops():
            return torch.library.register_fake(op_name)(fn)
        return fn
    return wrapper

'''


def imports_cleanly() -> tuple[bool, str]:
    """Try `import torchvision` in a fresh interpreter; return (ok, stderr)."""
    proc = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True)
    return proc.returncode == 0, proc.stderr


def patch(path: Path) -> bool:
    """Guard the unconditional nms/qnms fake registrations; return True if the file changed."""
    source = path.read_text()
    if MARKER in source:
        return False
    target = '@torch.library.register_fake("torchvision::'
    if target not in source:
        raise SystemExit(f"cpu_torchvision: {path} has no unguarded registration; this torchvision needs a new fix")
    anchor = "\n@functools.lru_cache(None)\ndef get_meta_lib():"
    if anchor not in source:
        raise SystemExit(f"cpu_torchvision: unexpected layout of {path}; this torchvision needs a new fix")
    source = source.replace(anchor, GUARD + anchor, 1)
    source = source.replace(target, '@_register_fake_if_ops("torchvision::')
    tmp = path.with_suffix(".py.tmp")
    tmp.write_text(source)
    tmp.replace(path)
    return True


def main() -> int:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        print("cpu_torchvision: torchvision is not installed; nothing to do")
        return 0
    ok, err = imports_cleanly()
    if ok:
        print("cpu_torchvision: torchvision imports cleanly; nothing to do")
        return 0
    if "torchvision::nms" not in err:
        print(err, file=sys.stderr)
        raise SystemExit("cpu_torchvision: torchvision fails to import for an unknown reason (see above)")
    meta = Path(spec.origin).parent / "_meta_registrations.py"
    changed = patch(meta)
    ok, err = imports_cleanly()
    if not ok:
        print(err, file=sys.stderr)
        raise SystemExit("cpu_torchvision: torchvision still fails to import after the fix")
    print(f"cpu_torchvision: {'patched' if changed else 'already patched'} {meta}; torchvision imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
