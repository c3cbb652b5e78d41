"""classifiers: one loader for every saved classifier, chapter 8's mean-pooling class included."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from edgehelpers import classifiers, e5  # noqa: E402


@pytest.fixture()
def mean_pool_folder(tmp_path):
    config_class, model_class = e5._mean_pool_classes()
    torch.manual_seed(0)
    model = model_class(config_class(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, num_labels=3)).eval()
    model.save_pretrained(tmp_path / "m")
    return tmp_path / "m", model


def test_a_fresh_process_loads_chapter_8s_class_without_registering_it_first(mean_pool_folder):
    """Nothing but `load_classifier_model`: the class is registered by the loader (no exec strings)."""
    path, model = mean_pool_folder
    code = ("import sys, torch; from edgehelpers.classifiers import load_classifier_model; "
            "m = load_classifier_model(sys.argv[1]); "
            "print(type(m).__name__, m.training, m(input_ids=torch.tensor([[0, 7, 9, 2]])).logits.sum().item())")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    name, training, total = out.split()
    assert name == "MeanPoolBertClassifier" and training == "False"
    with torch.no_grad():
        assert abs(float(total) - model(input_ids=torch.tensor([[0, 7, 9, 2]])).logits.sum().item()) < 1e-5


def test_a_folder_missing_weights_is_refused_with_what_to_do(mean_pool_folder):
    from safetensors.torch import load_file, save_file

    path, _ = mean_pool_folder
    weights = load_file(str(path / "model.safetensors"))
    del weights["classifier.weight"]
    save_file(weights, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(RuntimeError, match="incomplete.*classifier.weight.*delete that folder"):
        classifiers.load_classifier_model(path)
