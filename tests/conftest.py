"""Fixtures shared by the tests of the model helpers (train, distill, quant, prune)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    """The MiniLM tokenizer from the package's bundled files (no download)."""
    transformers = pytest.importorskip("transformers")
    from edgehelpers.models import minilm_path

    return transformers.AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True)


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and can't oversubscribe a shared CI machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
