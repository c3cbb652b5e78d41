"""Build chapter 10's small language model variants into the cache (once).

`make slm` (a prerequisite of `make notebooks`) runs this: the FP32 folder dequantized from the
packaged GGUF file, ONNX Runtime GenAI's INT4 models and OpenVINO's stateful IRs (FP32, INT8, INT4),
so their conversions are a stage of their own and not part of chapter 10's time budget.
Run from the repository root: python tools/build_slm.py
"""

from __future__ import annotations

import os
import time


def main() -> None:
    """Build or find every cached variant and print where each is and how big."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may need the Hugging Face Hub
    from edgehelpers.slm import reference_path
    from edgehelpers.size import size_on_disk
    from edgehelpers.slm_runtimes import OV_BUILDS, ORT_BUILDS, openvino_folder, ort_genai_folder

    start = time.perf_counter()
    folders = [reference_path()]
    folders += [ort_genai_folder(kind) for kind in ORT_BUILDS if kind != "fp32"]
    folders += [openvino_folder(kind) for kind in OV_BUILDS]
    for folder in folders:
        print(f"  {folder}: {size_on_disk(folder) / 1e6:.0f} MB")
    print(f"chapter 10's models ready in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
