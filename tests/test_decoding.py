"""Prefill/decode timing, greedy agreement and perplexity helpers, on a tiny random Llama."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgehelpers import decoding  # noqa: E402
from tests.test_slm import tiny_llama  # noqa: E402


def test_prefill_and_decode_are_timed_apart():
    calls = []

    def prefill():
        time.sleep(0.03)
        return 0

    def step(state):
        calls.append(state)
        time.sleep(0.002)
        return state + 1

    r = decoding.time_prefill_decode(prefill, step, prompt_tokens=5, new_tokens=4, runs=2, warmup=1)
    assert r.prefill.n == 2 and r.decode.n == 8  # warm-up not timed; one sample per token
    assert r.prefill.p50_ms >= 29 and r.prefill.p50_ms < 60
    assert 1.9 <= r.decode.p50_ms < 15
    assert calls == [0, 1, 2, 3] * 3  # each run starts from a fresh prefill
    assert r.tokens_per_s == pytest.approx(1000 / r.decode.p50_ms)
    with pytest.raises(ValueError):
        decoding.time_prefill_decode(prefill, step, prompt_tokens=5, new_tokens=0)


def test_torch_steps_match_generate_and_fix_threads():
    model = tiny_llama()
    ids = torch.tensor([[3, 7, 11, 19]])
    want = model.generate(ids, max_new_tokens=6, do_sample=False, min_new_tokens=6)[0, 4:].tolist()
    assert decoding.greedy_tokens(model, ids, 6) == want
    prefill, step = decoding.torch_steps(model, ids)
    before = torch.get_num_threads()
    r = decoding.time_prefill_decode(prefill, step, prompt_tokens=4, new_tokens=3, runs=2, threads=1)
    assert r.threads == 1 and r.decode.threads == 1 and torch.get_num_threads() == before


def test_cache_grows_by_one_token_per_step():
    model = tiny_llama()
    prefill, step = decoding.torch_steps(model, torch.tensor([[1, 2, 3]]))
    state = prefill()
    first = decoding.cache_bytes(state[0])
    state = step(state)
    assert decoding.cache_bytes(state[0]) == first * 4 // 3


def test_agreement_and_first_difference():
    assert decoding.agreement([1, 2, 3, 4], [1, 2, 9, 4], n=4) == 0.75
    assert decoding.agreement([1, 2, 3, 4], [1, 2], n=4) == 0.5  # missing tokens count as different
    assert decoding.first_difference([1, 2, 3], [1, 2, 9]) == 2
    assert decoding.first_difference([1, 2, 3], [1, 2, 3]) == 3
    with pytest.raises(ValueError, match="at least n=32"):
        decoding.agreement([1], [1])


def test_window_nll_is_cross_entropy():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]]))
    # tokens 1 and 2 are predicted from positions 0 and 1
    assert decoding.window_nll(logits, [0, 1, 1]) == pytest.approx(-(math.log(0.25) + math.log(0.8)) / 2)
    with pytest.raises(ValueError, match="logits must be"):
        decoding.window_nll(logits, [0, 1])


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    windows = decoding.token_windows(list(range(40)) * 2, window=8, count=5)
    assert len(windows) == 5 and windows[1] == list(range(8, 16))
    nll = decoding.nll_per_window(lambda ids: np.zeros((len(ids), 50)), windows)
    assert decoding.perplexity(nll) == pytest.approx(50)
    with pytest.raises(ValueError, match="ask for fewer windows"):
        decoding.token_windows(list(range(10)), window=8, count=2)


def test_torch_logits_scores_a_real_model_the_way_its_loss_does():
    model = tiny_llama()
    ids = [5, 9, 33, 70, 200, 3, 8]
    with torch.no_grad():
        loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
    assert decoding.window_nll(decoding.torch_logits(model)(ids), ids) == pytest.approx(loss, rel=1e-5)


def test_perplexity_change_interval():
    rng = np.random.default_rng(1)
    ref = rng.normal(3.0, 0.3, 40)
    same = decoding.perplexity_change(ref, ref)
    assert same.ratio == 1 and same.low == 1 and same.high == 1 and same.within(0.0)
    worse = decoding.perplexity_change(ref, ref + 0.05 + rng.normal(0, 0.01, 40))
    assert worse.ratio == pytest.approx(math.exp(0.05), rel=0.01)
    assert 1 < worse.low < worse.ratio < worse.high
    assert worse.within(0.10) and not worse.within(0.03)
    assert str(worse).startswith("+5.")
    with pytest.raises(ValueError, match="same >= 2 windows"):
        decoding.perplexity_change(ref, ref[:3])
