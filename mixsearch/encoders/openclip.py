"""OpenCLIP dual encoders (text and images in one space), on CPU or CUDA.

Specs (after the ``openclip:`` prefix):

* ``ARCH/TAG`` — an open_clip architecture with a pretrained tag, e.g. ``ViT-B-32/laion2b_s34b_b79k``
  (open_clip downloads the weights when online);
* ``hf-hub:org/repo`` — a Hugging Face hub repository in open_clip layout;
* ``local-dir:/path`` — a folder holding ``open_clip_config.json`` and
  ``open_clip_model.safetensors`` (or ``open_clip_pytorch_model.bin``): fully offline;
* ``ARCH@/path/to/checkpoint.safetensors|.pt|.bin`` — an architecture plus a local checkpoint.

When weights cannot be fetched the error is one ``MixsearchError`` naming the offline remedies.
The fingerprint hashes the checkpoint file (streamed, cached per path+mtime+size); when open_clip
loaded weights from somewhere we cannot locate, it hashes the loaded state dict instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsearch.encoders.base import (
    IMAGE,
    TEXT,
    BatchedImagesMixin,
    BatchedTextsMixin,
    file_sha256,
    finish_vectors,
    resolve_device,
)
from mixsearch.errors import EncoderSpecError, MixsearchError, WeightsUnavailableError

if TYPE_CHECKING:
    import torch
    from PIL import Image

PREFIX = "openclip:"
PRECISIONS = ("auto", "fp32", "fp16", "bf16")  # auto: fp16 on CUDA, else fp32
LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_HUB_CONFIG = "open_clip_config.json"

OFFLINE_REMEDY = (
    "to run offline pass a local checkpoint, e.g. 'openclip:ViT-B-32@/path/to/model.safetensors' "
    "or 'openclip:local-dir:/folder' (holding open_clip_config.json and "
    "open_clip_model.safetensors), or use --encoder offline-default"
)


@dataclass(frozen=True)
class OpenClipSpec:
    """A parsed ``openclip:`` spec: what to hand open_clip and where the weights live."""

    spec: str  # without the prefix
    model_name: str  # what open_clip.create_model_and_transforms gets as model_name
    pretrained: str | None  # a tag or a checkpoint path (None for local-dir / hf-hub)
    weights_file: Path | None  # a local file to hash, when known up front

    @property
    def name(self) -> str:
        return PREFIX + self.spec


def parse_openclip_spec(spec: str) -> OpenClipSpec:
    """``openclip:...`` (prefix optional) → OpenClipSpec; raises MixsearchError when malformed."""
    body = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
    if body.startswith(LOCAL_DIR):
        folder = Path(body[len(LOCAL_DIR) :]).expanduser()
        return OpenClipSpec(body, LOCAL_DIR + str(folder), None, _local_dir_weights(folder))
    if body.startswith(HF_HUB):
        if "/" not in body[len(HF_HUB) :]:
            raise EncoderSpecError(f"bad spec {spec!r}: use 'openclip:hf-hub:org/repo'")
        return OpenClipSpec(body, body, None, None)
    if "@" in body:
        arch, _, checkpoint = body.partition("@")
        path = Path(checkpoint).expanduser()
        _check_checkpoint(spec, path)
        return OpenClipSpec(body, arch, str(path), path)
    arch, _, tag = body.partition("/")
    if not arch or not tag:
        raise EncoderSpecError(
            f"bad spec {spec!r}: use 'openclip:ARCH/TAG' (e.g. openclip:ViT-B-32/laion2b_s34b_b79k), "
            "'openclip:hf-hub:org/repo', 'openclip:local-dir:/folder' or 'openclip:ARCH@/checkpoint'"
        )
    return OpenClipSpec(body, arch, tag, None)


def _local_dir_weights(folder: Path) -> Path:
    if not (folder / "open_clip_config.json").is_file():
        raise WeightsUnavailableError(
            f"{folder} is not an open_clip model folder: open_clip_config.json is missing"
        )
    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise WeightsUnavailableError(f"{folder} holds no {' or '.join(_WEIGHT_FILES)}")


def _check_checkpoint(spec: str, path: Path) -> None:
    if not path.is_file():
        raise WeightsUnavailableError(f"checkpoint file not found for {spec!r}: {path}")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise EncoderSpecError(
            f"checkpoint {path} should end in one of {', '.join(CHECKPOINT_SUFFIXES)}"
        )


class OpenClipEncoder(BatchedTextsMixin, BatchedImagesMixin):
    """Any open_clip model as a dual text/image encoder."""

    modalities = frozenset({TEXT, IMAGE})

    def __init__(
        self,
        spec: str,
        *,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int = 64,
        image_batch_size: int = 32,
    ) -> None:
        self.parsed = parse_openclip_spec(spec)
        self.name = self.parsed.name
        self.device = resolve_device(device)
        self.precision = _check_precision(precision, self.device)
        self.batch_size = batch_size
        self.image_batch_size = image_batch_size
        self.model, self.image_transform, self.tokenizer, self.weights_file = _load(
            self.parsed, self.device
        )
        image_size = getattr(self.model.visual, "image_size", 224)
        side = image_size[0] if isinstance(image_size, (tuple, list)) else image_size
        self.draft_size: int | None = int(side)
        self.dim = int(self._encode_text_batch(["a"]).shape[1])
        self._weights_sha256: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        # Identify weights and preprocessing, not where they were loaded from: a moved or copied
        # checkpoint keeps its fingerprint. Precision and device are left out on purpose too:
        # fp16-on-GPU vectors must stay comparable with fp32-on-CPU ones for the same weights.
        return {
            "kind": "openclip",
            "architecture": self._architecture(),
            "weights_sha256": self.weights_sha256(),
            "preprocessing": repr(self.image_transform),
            "dim": self.dim,
        }

    def _architecture(self) -> str:
        if self.parsed.model_name.startswith(LOCAL_DIR):
            config = Path(self.parsed.model_name[len(LOCAL_DIR) :]) / "open_clip_config.json"
            return "local-dir config sha256 " + file_sha256(config)[:16]
        return self.parsed.model_name

    def weights_sha256(self) -> str:
        if self._weights_sha256 is None:
            weights = self.weights_file or _locate_downloaded_weights(self.parsed)
            self._weights_sha256 = (
                file_sha256(weights) if weights is not None else _state_dict_sha256(self.model)
            )
        return self._weights_sha256

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self.image_transform(image)

    def encode_image_tensors(self, batch: torch.Tensor, *, normalize: bool = True) -> np.ndarray:
        import torch

        with torch.inference_mode(), self._autocast():
            features = self.model.encode_image(batch.to(self.device, non_blocking=True))
        return finish_vectors(features.float().cpu().numpy(), normalize)

    def _encode_text_batch(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(list(texts)).to(self.device)
        with torch.inference_mode(), self._autocast():
            features = self.model.encode_text(tokens)
        return features.float().cpu().numpy()

    def _autocast(self) -> AbstractContextManager[Any]:
        import torch

        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
        return torch.autocast(device_type="cuda", dtype=dtype)


def _check_precision(precision: str, device: str) -> str:
    precision = precision.lower()
    if precision not in PRECISIONS:
        raise EncoderSpecError(
            f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}"
        )
    if precision == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    if precision != "fp32" and not device.startswith("cuda"):
        raise EncoderSpecError(f"precision {precision} needs a CUDA device; use fp32 on the CPU")
    return precision


def _load(parsed: OpenClipSpec, device: str) -> tuple[Any, Any, Any, Path | None]:
    """(model in eval mode on device, eval image transform, tokenizer, weights file if known).

    A pretrained tag's weights are fetched *before* the model is built, so an offline machine
    fails in a moment instead of after building a large random-initialised model. The model is
    then built from that file with the tag's preprocessing, so open_clip does not ask the hub again.
    An hf-hub repo already in the Hugging Face cache is loaded from there with no network at all.
    """
    import open_clip

    _check_known_architecture(parsed)
    try:
        weights, pretrained, preprocess = parsed.weights_file, parsed.pretrained, {}
        model_name = tokenizer_name = parsed.model_name
        if weights is None and pretrained is not None:  # ARCH/TAG
            cfg = open_clip.get_pretrained_cfg(parsed.model_name, pretrained)
            weights = _fetch_tag_weights(parsed, cfg)
            if weights is not None:
                pretrained, preprocess = str(weights), _tag_preprocessing(cfg)
        elif parsed.model_name.startswith(HF_HUB):
            model_name, tokenizer_name, weights = _fetch_hub_model(parsed)
        model, _, transform = open_clip.create_model_and_transforms(
            model_name, pretrained=pretrained, device=device, **preprocess
        )
        tokenizer = open_clip.get_tokenizer(tokenizer_name)
        if weights is None and parsed.model_name.startswith(HF_HUB):
            # open_clip only logs a warning when an hf-hub config downloads but the weights do
            # not, and returns a random-initialised model: never serve that as the real one.
            weights = _locate_downloaded_weights(parsed)
            if weights is None:
                raise WeightsUnavailableError(
                    f"{parsed.name!r}: its config was fetched but not its weights; {OFFLINE_REMEDY}"
                )
    except MixsearchError:
        raise
    except Exception as err:  # network, hub, file and state-dict errors come in many types
        raise WeightsUnavailableError(_load_failure(parsed, err)) from None
    return model.eval(), transform, tokenizer, weights


def _fetch_tag_weights(parsed: OpenClipSpec, cfg: dict[str, Any]) -> Path | None:
    """A tag's weights file: from the local Hugging Face cache with no network at all, else
    downloaded by open_clip once one quick request has shown the hub answers.

    Without that probe an unreachable hub costs ~45 s: for a file that is not cached,
    huggingface_hub retries the metadata request 5 times with backoff (1+2+4+8+8 s), and open_clip
    asks for two file names (the .safetensors alternative, then the .bin).
    """
    import open_clip

    repo, filename = os.path.split(cfg.get("hf_hub", ""))
    if repo and "file" not in cfg:  # open_clip prefers the hub over a tag's url
        names = _hub_weight_names(filename)
        for name in names:
            cached = _hub_cached_file(repo, name)
            if cached is not None:
                return cached
        _check_hub_reachable(parsed, repo, names[0])
    path = open_clip.download_pretrained(cfg) if cfg else ""
    return Path(path) if path else None


def _fetch_hub_model(parsed: OpenClipSpec) -> tuple[str, str, Path | None]:
    """For ``hf-hub:org/repo``: (model name and tokenizer name for open_clip, weights file if known).

    When the repo's open_clip_config.json and weights are in the Hugging Face cache, the cache
    snapshot folder holding them is handed to open_clip as ``local-dir:``, which reads the same
    model_cfg and preprocess_cfg and picks the weights in the same order as its hf-hub loader,
    with no network at all. Otherwise one quick request checks that the hub answers before
    open_clip downloads (see _fetch_tag_weights for why).
    """
    repo = parsed.model_name[len(HF_HUB) :]
    config = _hub_cached_file(repo, _HUB_CONFIG)
    cached = (_hub_cached_file(repo, name) for name in _hub_weight_names(""))
    weights = next((path for path in cached if path is not None), None)
    if config is None or weights is None or weights.parent != config.parent:
        _check_hub_reachable(parsed, repo, _HUB_CONFIG)
        return parsed.model_name, parsed.model_name, None
    snapshot = LOCAL_DIR + str(config.parent)
    text_cfg = json.loads(config.read_text(encoding="utf-8")).get("model_cfg", {}).get("text_cfg")
    # a config naming a Hugging Face tokenizer gets it from the hub, as open_clip's hf-hub does
    # (a local-dir: would look for the tokenizer files in the snapshot folder instead)
    tokenizer = parsed.model_name if (text_cfg or {}).get("hf_tokenizer_name") else snapshot
    return snapshot, tokenizer, weights


def _hub_weight_names(filename: str) -> tuple[str, ...]:
    """The file names open_clip.download_pretrained_from_hf tries, in its order."""
    name = filename or _WEIGHT_FILES[1]  # open_clip's default: open_clip_pytorch_model.bin
    if name == _WEIGHT_FILES[1]:
        return (_WEIGHT_FILES[0], name)
    if name.endswith((".bin", ".pth")):
        return (name[:-4] + ".safetensors", name)
    return (name,)


def _hub_cached_file(repo: str, filename: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo, filename)  # reads the cache only, never the network
    return Path(cached) if isinstance(cached, str) else None


def _check_hub_reachable(parsed: OpenClipSpec, repo: str, filename: str) -> None:
    """One metadata request for the file, no retries; MixsearchError when the hub does not answer.

    Any HTTP answer (even 404 or 401) means the hub is reachable: open_clip then downloads (or
    reports the hub's error) as usual. The timeout is HF_HUB_ETAG_TIMEOUT when set, else 5 s.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    if constants.is_offline_mode():
        detail = "they are not in the Hugging Face cache and HF_HUB_OFFLINE is set"
        raise WeightsUnavailableError(_fetch_failure(parsed, detail))
    timeout = constants.HF_HUB_ETAG_TIMEOUT if os.environ.get("HF_HUB_ETAG_TIMEOUT") else 5.0
    try:
        get_hf_file_metadata(hf_hub_url(repo, filename), timeout=timeout, retry_on_errors=False)
    except HfHubHTTPError:
        return
    except Exception as err:  # connection refused, DNS failure, timeout, proxy error, ...
        detail = (
            f"they are not in the Hugging Face cache and {constants.ENDPOINT} does not answer: "
            f"{type(err).__name__}: {_first_sentence(err)}"
        )
        raise WeightsUnavailableError(_fetch_failure(parsed, detail)) from None


def _tag_preprocessing(cfg: dict[str, Any]) -> dict[str, Any]:
    """A tag's preprocessing as create_model_and_transforms overrides (None keeps its default)."""
    return {
        "image_mean": cfg.get("mean"),
        "image_std": cfg.get("std"),
        "image_interpolation": cfg.get("interpolation"),
        "image_resize_mode": cfg.get("resize_mode"),
    }


def _check_known_architecture(parsed: OpenClipSpec) -> None:
    import open_clip

    if parsed.model_name.startswith((LOCAL_DIR, HF_HUB)):
        return
    if parsed.model_name not in open_clip.list_models():
        raise EncoderSpecError(
            f"unknown open_clip architecture {parsed.model_name!r} in {parsed.name!r}; "
            "see open_clip.list_models()"
        )
    if parsed.weights_file is None and parsed.pretrained is not None:
        tags = open_clip.list_pretrained_tags_by_model(parsed.model_name)
        if parsed.pretrained not in tags:
            raise EncoderSpecError(
                f"unknown pretrained tag {parsed.pretrained!r} for {parsed.model_name}; "
                f"known tags: {', '.join(tags) or 'none'}"
            )


def _load_failure(parsed: OpenClipSpec, err: Exception) -> str:
    detail = _first_sentence(err)
    if parsed.weights_file is not None:
        return f"cannot load {parsed.name!r} from {parsed.weights_file}: {detail}"
    return _fetch_failure(parsed, detail)


def _fetch_failure(parsed: OpenClipSpec, detail: str) -> str:
    return f"cannot fetch the weights for {parsed.name!r} ({detail}); {OFFLINE_REMEDY}"


def _first_sentence(err: Exception) -> str:
    text = " ".join(str(err).split())
    if not text:
        return type(err).__name__
    return text.split(". ")[0][:160]


def _locate_downloaded_weights(parsed: OpenClipSpec) -> Path | None:
    """The cached hub download open_clip loaded from, without touching the network."""
    if not parsed.model_name.startswith(HF_HUB):
        return None
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        return None
    repo = parsed.model_name[len(HF_HUB) :]
    for filename in _WEIGHT_FILES:
        try:
            return Path(hf_hub_download(repo, filename, local_files_only=True))
        except Exception:  # not in the cache under this name: try the next layout
            continue
    return None


def _state_dict_sha256(model: Any) -> str:
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode("utf-8"))
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
