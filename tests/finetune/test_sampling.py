"""The two-model sampler against brute-force enumeration on a two-token vocabulary."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from duelbandit.errors import OnlineError  # noqa: E402
from duelbandit.finetune.sampling import sample_mixture  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny models: 2 OpenMP threads on a shared 2-core machine run far slower than one
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_llama(seed: int, vocab: int = 2):
    cfg = transformers.LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        m = transformers.LlamaForCausalLM(cfg)
        # random init is close to uniform; sharpen the head so the mixture weight matters
        m.lm_head.weight.data *= 40.0
    return m.eval()


def exact_seq_logp(ma, mb, prompt: list[int], seq: tuple[int, ...], w: float) -> float:
    """log pi_w(seq | prompt) by full forward passes (no cache, no padding), mixture written out here."""
    ids = torch.tensor([prompt + list(seq)])
    with torch.no_grad():
        la = torch.log_softmax(ma(ids).logits[0].double(), -1)
        lb = torch.log_softmax(mb(ids).logits[0].double(), -1)
    total = 0.0
    for t, tok in enumerate(seq):
        pos = len(prompt) - 1 + t
        z = w * la[pos] + (1 - w) * lb[pos]
        total += float(z[tok] - torch.logsumexp(z, 0))
    return total


@pytest.mark.parametrize("w", [0.0, 0.6, 1.7])
def test_mixture_sampler_matches_bruteforce(w):
    ma, mb = tiny_llama(1), tiny_llama(2)
    prompts = [[1, 0, 1, 1], [0], [1, 1]]
    P = max(map(len, prompts))
    ids = torch.zeros(len(prompts), P, dtype=torch.long)
    att = torch.zeros_like(ids)
    for r, p in enumerate(prompts):
        ids[r, P - len(p):] = torch.tensor(p)
        att[r, P - len(p):] = 1
    T, N = 3, 1500
    gen = torch.Generator().manual_seed(0)
    out = sample_mixture(ma, mb, ids.repeat(N, 1), att.repeat(N, 1), weight=w, max_new_tokens=T, generator=gen)
    assert out.tokens.shape == (N * len(prompts), T) and bool(out.mask.all())
    seqs = list(itertools.product([0, 1], repeat=T))
    for r, p in enumerate(prompts):
        exact = np.exp([exact_seq_logp(ma, mb, p, s, w) for s in seqs])
        assert abs(exact.sum() - 1) < 1e-9
        rows = out.tokens[r::len(prompts)]
        # the sampler's own log-probs (KV caches, left padding) equal the uncached, unpadded computation
        got_lp = out.logp[r::len(prompts)].double().sum(1)
        for k in range(0, N, 97):
            s = tuple(rows[k].tolist())
            assert abs(float(got_lp[k]) - np.log(exact[seqs.index(s)])) < 1e-4
        counts = np.array([(rows == torch.tensor(s)).all(1).sum().item() for s in seqs])
        freq = counts / N
        sd = np.sqrt(exact * (1 - exact) / N)
        assert np.all(np.abs(freq - exact) <= 5 * sd + 1e-3), (freq, exact)


def test_kl_to_reference_is_exact_and_zero_at_weight_zero():
    ma, mb = tiny_llama(3, vocab=5), tiny_llama(4, vocab=5)
    ids = torch.tensor([[1, 2, 3]])
    att = torch.ones_like(ids)
    out = sample_mixture(ma, mb, ids, att, weight=0.0, max_new_tokens=4, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(out.kl_b, torch.zeros_like(out.kl_b), atol=1e-6)
    out = sample_mixture(ma, mb, ids, att, weight=1.0, max_new_tokens=1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        pa = torch.softmax(ma(ids).logits[0, -1].double(), -1)
        pb = torch.softmax(mb(ids).logits[0, -1].double(), -1)
    assert abs(float(out.kl_b[0, 0]) - float((pa * (pa / pb).log()).sum())) < 1e-5


def test_eos_stops_a_row_and_pads_after():
    ma = tiny_llama(5, vocab=3)
    ids = torch.tensor([[1, 2], [2, 1]])
    out = sample_mixture(ma, None, ids, torch.ones_like(ids), max_new_tokens=12,
                         generator=torch.Generator().manual_seed(0), eos_token_id=0, pad_token_id=2)
    for row, m in zip(out.tokens.tolist(), out.mask.tolist()):
        if 0 in row:
            k = row.index(0)
            assert all(m[: k + 1]) and not any(m[k + 1:]) and all(t == 2 for t in row[k + 1:])
        else:
            assert all(m)


def test_different_vocabularies_are_refused():
    ma, mb = tiny_llama(1, vocab=2), tiny_llama(1, vocab=3)
    ids = torch.tensor([[1]])
    with pytest.raises(OnlineError, match="vocabulary"):
        sample_mixture(ma, mb, ids, torch.ones_like(ids), weight=0.5, max_new_tokens=2)
