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


@pytest.fixture(scope="session")
def tiny_bert(tokenizer):
    """Makes a 2-layer random BERT classifier over the MiniLM vocabulary: seconds to export or convert."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")

    def make(hidden_size: int = 64, num_labels: int = 3):
        torch.manual_seed(0)
        config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden_size, num_hidden_layers=2,
                                         num_attention_heads=2, intermediate_size=2 * hidden_size, num_labels=num_labels)
        return transformers.BertForSequenceClassification(config).eval()

    return make
