"""Build an encoder from a name (``--encoder``) or from a TOML ``[encoder]`` table.

Names:
  offline-default                      MiniLM text + EfficientNet-lite0 ConSE images (packaged)
  minilm-l6                            all-MiniLM-L6-v2, text only (packaged)
  minilm-l3-onnx                       paraphrase-MiniLM-L3-v2 via onnxruntime, text only
  openclip:ARCH/TAG                    e.g. openclip:ViT-B-32/laion2b_s34b_b79k (downloads)
  openclip:hf-hub:org/repo             a hub repository in open_clip layout
  openclip:local-dir:/folder           open_clip_config.json + open_clip_model.safetensors
  openclip:ARCH@/path/checkpoint       a local .safetensors / .pt / .bin checkpoint

TOML form::

  [encoder]
  name = "offline-default"   # or kind = "openclip", model = "ViT-B-32", pretrained = "TAG|PATH"
  device = "auto"            # auto | cpu | cuda
  precision = "fp32"         # openclip: auto (fp16 on CUDA, else fp32) | fp32 | fp16 | bf16
  batch_size = 64
  topk = 50                  # offline-default: ImageNet classes mixed per image
  temperature = 2.0          # offline-default: softmax temperature of the class mixture
  class_text = "description" # offline-default: "description" (lemmas + definition) or "name"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any

from mixsearch.encoders.base import Encoder, resolve_device
from mixsearch.errors import EncoderSpecError

OFFLINE_DEFAULT = "offline-default"
MINILM_L6 = "minilm-l6"
MINILM_L3_ONNX = "minilm-l3-onnx"
OPENCLIP_PREFIX = "openclip:"

VALID_FORMS = (
    "offline-default, minilm-l6, minilm-l3-onnx, openclip:ARCH/TAG, openclip:hf-hub:org/repo, "
    "openclip:local-dir:/folder, openclip:ARCH@/path/checkpoint.safetensors"
)
OFFLINE_OPTIONS = ("topk", "temperature", "class_text")
_OPTION_KEYS = ("precision", "batch_size", *OFFLINE_OPTIONS)
_CONFIG_KEYS = {"name", "kind", "model", "pretrained", "device", *_OPTION_KEYS}


def create_encoder(spec: str | Mapping[str, Any], *, device: str = "auto") -> Encoder:
    """An encoder for a name or an ``[encoder]`` config table.

    Args:
        spec: A name (``"offline-default"``, ``"minilm-l6"``, ``"openclip:ARCH/TAG"``,
            ``"openclip:hf-hub:ORG/REPO"``, ``"openclip:local-dir:PATH"``,
            ``"openclip:ARCH@FILE"``) or a config mapping as in a preset's ``[encoder]`` table.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (a config's own ``device`` is overridden by an
            explicit one).

    Returns:
        An `Encoder`: float32, L2-normalised vectors, with a fingerprint of its weights.

    Raises:
        EncoderSpecError: an unknown name, option or config key, or a device it cannot use.
        WeightsUnavailableError: weights not installed, not cached, or not fetchable.
    """
    if isinstance(spec, Mapping):
        return _from_config(spec, device)
    if not isinstance(spec, str) or not spec.strip():
        raise EncoderSpecError(f"encoder spec must be a non-empty name; valid forms: {VALID_FORMS}")
    return _from_name(spec.strip(), device=device, options={})


def reopening_spec(spec: str | Mapping[str, Any] | None, encoder: Encoder) -> Any:
    """What rebuilds ``encoder`` later (a store reopening, a Ray actor): its full settings when it
    can state them, so a later change of an encoder's defaults cannot change the encoder."""
    settings = getattr(encoder, "config", None)
    if callable(settings):
        return dict(settings())
    return spec if spec is not None else encoder.name


def load_encoder_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``[encoder]`` table of a TOML file (or the whole file when it has no such table);
    ``path`` may name a shipped preset (`mixsearch.presets`)."""
    from mixsearch.presets import config_path as resolve

    config_path = resolve(path)
    try:
        with open(config_path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise EncoderSpecError(f"encoder config not found: {config_path}") from None
    except tomllib.TOMLDecodeError as err:
        raise EncoderSpecError(f"{config_path}: invalid TOML ({err})") from None
    table = document.get("encoder", document)
    if not isinstance(table, dict):
        raise EncoderSpecError(f"{config_path}: [encoder] must be a table")
    return table


def _from_config(config: Mapping[str, Any], device: str) -> Encoder:
    unknown = set(config) - _CONFIG_KEYS
    if unknown:
        raise EncoderSpecError(
            f"unknown [encoder] keys {sorted(unknown)}; allowed: {', '.join(sorted(_CONFIG_KEYS))}"
        )
    # An explicit device argument (e.g. --device) beats the file; the file beats "auto".
    chosen_device = device if device != "auto" else str(config.get("device", "auto"))
    options = {k: config[k] for k in _OPTION_KEYS if k in config}
    return _from_name(_config_name(config), device=chosen_device, options=options)


def _config_name(config: Mapping[str, Any]) -> str:
    kind = str(config.get("kind", "")).lower()
    if kind == "openclip" and "name" in config:
        raise EncoderSpecError(
            '[encoder] gives both kind = "openclip" and name: use kind/model/pretrained, '
            'or name = "openclip:..." alone'
        )
    if kind == "openclip" or (not kind and "model" in config and "name" not in config):
        return _openclip_name(config)
    if kind in ("offline", "offline-default"):
        return OFFLINE_DEFAULT
    if "name" in config:
        return str(config["name"])
    raise EncoderSpecError(
        f'[encoder] needs name = ... or kind = "openclip"; valid names: {VALID_FORMS}'
    )


def _openclip_name(config: Mapping[str, Any]) -> str:
    model = str(config.get("model", "")).strip()
    if not model:
        raise EncoderSpecError('[encoder] kind = "openclip" needs model = "ARCH" (e.g. "ViT-B-32")')
    pretrained = config.get("pretrained")
    if model.startswith(("hf-hub:", "local-dir:")) or pretrained is None:
        return OPENCLIP_PREFIX + model
    pretrained = str(pretrained)
    looks_like_path = os.sep in pretrained or pretrained.endswith(
        (".safetensors", ".pt", ".pth", ".bin")
    )
    return f"{OPENCLIP_PREFIX}{model}{'@' if looks_like_path else '/'}{pretrained}"


def _from_name(name: str, *, device: str, options: dict[str, Any]) -> Encoder:
    batch: dict[str, Any] = (
        {"batch_size": int(options["batch_size"])} if "batch_size" in options else {}
    )
    if name.startswith(OPENCLIP_PREFIX):
        from mixsearch.encoders.openclip import OpenClipEncoder

        precision = str(options.get("precision", "fp32"))
        return OpenClipEncoder(name, device=device, precision=precision, **batch)
    if name not in (OFFLINE_DEFAULT, MINILM_L6, MINILM_L3_ONNX):
        raise EncoderSpecError(f"unknown encoder {name!r}; valid forms: {VALID_FORMS}")
    _reject_options(
        name,
        options,
        {"batch_size", *OFFLINE_OPTIONS} if name == OFFLINE_DEFAULT else {"batch_size"},
    )
    if name == OFFLINE_DEFAULT:
        from mixsearch.encoders.offline import OfflineDefaultEncoder

        conse = _offline_options(options)
        return OfflineDefaultEncoder(device=_checked_device(device), **conse, **batch)
    if name == MINILM_L6:
        from mixsearch.encoders.offline import MiniLMEncoder

        return MiniLMEncoder(device=_checked_device(device), **batch)
    from mixsearch.encoders.offline import MiniLMOnnxEncoder

    return MiniLMOnnxEncoder(**batch)


def _checked_device(device: str) -> str:
    """The packaged encoders resolve "auto" when torch first runs (a text query may never need
    torch); anything but auto/cpu is checked now, which imports torch."""
    device = (device or "auto").lower()
    return device if device in ("auto", "cpu") else resolve_device(device)


def _offline_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The ConSE settings given in a config, converted (the encoder validates their values)."""
    kinds = {"topk": int, "temperature": float, "class_text": str}
    try:
        return {k: kinds[k](options[k]) for k in OFFLINE_OPTIONS if k in options}
    except (TypeError, ValueError) as err:
        raise EncoderSpecError(f"[encoder] offline-default option: {err}") from None


def _reject_options(name: str, options: Mapping[str, Any], allowed: set[str]) -> None:
    extra = set(options) - allowed
    if extra:
        raise EncoderSpecError(f"encoder {name!r} does not take {', '.join(sorted(extra))}")
