"""Bytes on disk, parameter counts and human-readable sizes."""

import pytest

from edgehelpers.size import human_bytes, param_count, size_on_disk


def test_size_of_file_and_folder(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.bin").write_bytes(b"y" * 234)
    assert size_on_disk(tmp_path / "a.bin") == 1000
    assert size_on_disk(tmp_path) == 1234
    assert size_on_disk(str(sub)) == 234


def test_size_of_missing_path_names_it(tmp_path):
    missing = tmp_path / "model.onnx"
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        size_on_disk(missing)


def test_param_count_counts_tied_weights_once():
    torch = pytest.importorskip("torch")

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)  # 40
            self.head = torch.nn.Linear(4, 10, bias=False)
            self.head.weight = self.emb.weight  # tied: still 40
            self.norm = torch.nn.LayerNorm(4)  # 8

    model = Tied()
    assert param_count(torch.nn.Linear(4, 3)) == 15
    assert param_count(model) == 48
    model.norm.requires_grad_(False)
    assert param_count(model, trainable_only=True) == 40


def test_param_count_counts_shared_storage_once():
    torch = pytest.importorskip("torch")
    a = torch.nn.Linear(3, 3, bias=False)
    b = torch.nn.Linear(3, 3, bias=False)
    b.weight = torch.nn.Parameter(a.weight.data)  # a different Parameter over the same memory
    assert param_count(torch.nn.Sequential(a, b)) == 9


def test_param_count_rejects_non_modules():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        param_count([1, 2, 3])


@pytest.mark.parametrize(
    "n, text",
    [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (21_900_000, "21.9 MB"), (2_500_000_000, "2.5 GB")],
)
def test_human_bytes_is_decimal(n, text):
    assert human_bytes(n) == text


def test_human_bytes_rejects_negative():
    with pytest.raises(ValueError):
        human_bytes(-1)
