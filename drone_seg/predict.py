"""Segment images, folders, globs or videos with a trained model, writing masks and overlays.

    python -m drone_seg.predict ckpt_path=FILE input=PATH output=DIR [tile.enabled=true] [...]

`ckpt_path` is a training checkpoint (.ckpt), an ONNX file or a TorchScript file (see
`drone_seg.export`). Each image gives `<stem>.png` (class ids, mode L, full resolution),
`<stem>_color.png` and `<stem>_overlay.jpg`, under the same subfolders as in the input; each video
gives `<stem>_overlay.mp4`; `submission=csv` adds `submission.csv` (see `drone_seg.inference.rle`).

Inputs are never harmed: a run whose outputs would replace an input file, or land where a folder
or glob input would read them back next time, is refused before anything is written; an output
folder inside the input folder is left out of the search. Files that cannot be decoded are
skipped with a warning; a run that predicts nothing ends in an error.
"""

from __future__ import annotations

import csv
import glob
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path
from types import TracebackType
from typing import TextIO

import cv2
import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from PIL import Image
from tqdm import tqdm

from drone_seg.classes import NUM_CLASSES, PALETTE
from drone_seg.cli import begin_run, command
from drone_seg.data.io import IMAGE_SUFFIXES, read_image
from drone_seg.errors import ConfigError, DataError
from drone_seg.inference import rle
from drone_seg.inference.artifacts import LoadedModel, load_model
from drone_seg.inference.predictor import Predictor, Tiling, size_pair
from drone_seg.reporting.pictures import Palette, colorize, overlay
from drone_seg.runs.run_log import show

log = logging.getLogger(__name__)

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"})
SUBMISSION_FILE = "submission.csv"
IMAGE_OUTPUTS: tuple[str, ...] = ("{}.png", "{}_color.png", "{}_overlay.jpg")
VIDEO_OUTPUTS: tuple[str, ...] = ("{}_overlay.mp4",)
# Errors decoding one image (beyond read_image's DataError): skip that file, never abort the run.
DECODE_ERRORS: tuple[type[Exception], ...] = (DataError, cv2.error, OSError, ValueError)


@dataclass(frozen=True)
class InputFile:
    """An input file and the stem its outputs are named after (relative path, no suffix)."""

    path: Path
    stem: str

    @property
    def is_video(self) -> bool:
        return self.path.suffix.lower() in VIDEO_SUFFIXES

    def outputs(self, folder: Path) -> list[Path]:
        """The files predicting this source writes into `folder`."""
        names = VIDEO_OUTPUTS if self.is_video else IMAGE_OUTPUTS
        stem = folder / self.stem
        return [stem.with_name(name.format(stem.name)) for name in names]


@dataclass(frozen=True)
class Frame:
    """One image to segment: an image file (index 0) or frame `index` of a video."""

    source: InputFile
    index: int = 0

    @property
    def id(self) -> str:
        """The image's id in the submission file."""
        return f"{self.source.stem}_{self.index:06d}" if self.source.is_video else self.source.stem


@dataclass
class PredictResult:
    """What a run did: how many images (and video frames) it segmented, which files it skipped."""

    output: Path
    predicted: int = 0
    skipped: list[Path] = field(default_factory=list)


def search_root(pattern: str) -> Path | None:
    """The folder a folder or glob input is searched in (None for a single file)."""
    path = Path(pattern)
    if path.is_file():
        return None
    if path.is_dir():
        return path
    return Path(*takewhile(lambda part: not set(part) & set("*?["), path.parts))


def _is_within(path: Path, folder: Path) -> bool:
    """Whether resolved `path` is `folder` or lies inside it (both resolved)."""
    return path == folder or folder in path.parents


def find_inputs(pattern: str, output: Path | None = None) -> list[InputFile]:
    """The image and video files `pattern` names: a file, a folder (recursively) or a glob.

    Stems keep the path relative to the folder (or to the glob's fixed leading folders), so
    outputs keep the input's subfolders and same-named files in different folders do not clash.
    An `output` folder inside the searched folder is left out, so earlier predictions are never
    read back as inputs.
    """
    path = Path(pattern)
    base = search_root(pattern)
    if base is None:
        return [InputFile(path, path.stem)]
    files = (
        path.rglob("*") if path.is_dir() else (Path(f) for f in glob.iglob(pattern, recursive=True))
    )
    known = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    found = sorted(f for f in files if f.is_file() and f.suffix.lower() in known)
    if output is not None and output.resolve() != base.resolve():
        own = output.resolve()
        kept = [f for f in found if not _is_within(f.parent.resolve(), own)]
        if len(kept) < len(found):
            log.info(
                "Left out %d file(s) inside the output folder %s", len(found) - len(kept), output
            )
        found = kept
    if not found:
        raise DataError(f"input={pattern} names no image or video file (nor a folder holding any)")
    sources = [InputFile(f, f.relative_to(base).with_suffix("").as_posix()) for f in found]
    stems: dict[str, Path] = {}
    for source in sources:
        if source.stem in stems:
            raise DataError(
                f"input={pattern}: {stems[source.stem]} and {source.path} would write the same "
                "output files; rename one or predict them separately"
            )
        stems[source.stem] = source.path
    return sources


def count_frames(sources: list[InputFile]) -> int:
    """Images plus video frames (as the container reports them), for the progress bar."""
    total = 0
    for source in sources:
        if source.is_video:
            capture = cv2.VideoCapture(str(source.path))
            total += max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
            capture.release()
        else:
            total += 1
    return total


def check_outputs_spare_inputs(
    sources: list[InputFile], pattern: str, output: Path, submission: bool
) -> None:
    """Refuse, before anything is written, outputs that would replace an input file (by resolved
    path, or the same file under another name), that two inputs would both write, or that would
    land inside the searched input folder outside `output`, to be read back next run."""
    inputs = {source.path.resolve(): source.path for source in sources}
    inodes = {_inode(path): path for path in inputs}
    root = search_root(pattern)
    root = root.resolve() if root is not None else None
    own = output.resolve()
    writers: dict[Path, Path] = {}
    named = [(source.path, file) for source in sources for file in source.outputs(output)]
    if submission:
        named.append((output / SUBMISSION_FILE, output / SUBMISSION_FILE))
    for _, file in named:
        replaced = inputs.get(file.resolve()) or (
            inodes.get(_inode(file)) if file.exists() else None
        )
        if replaced is not None:
            raise ConfigError(
                f"output={output} would overwrite the input {replaced} with {file.name} "
                "(whatever overwrite= says): choose an output= folder that holds no input"
            )
    for writer, file in named:
        resolved = file.resolve()
        if resolved in writers:
            raise ConfigError(
                f"input={pattern}: {writers[resolved]} and {writer} would both write {file}; "
                "rename one or predict them separately"
            )
        writers[resolved] = writer
        if root is not None and _is_within(resolved, root) and root not in own.parents:
            raise ConfigError(
                f"output={output} would write {file} inside the input folder {root}, where the "
                f"next run would read it as an input: choose a subfolder (e.g. "
                f"output={root / 'predictions'}) or a folder outside it"
            )


def _inode(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file, which names it whatever the path (hard links)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def read_frames(
    sources: list[InputFile], skipped: list[Path]
) -> Iterator[tuple[Frame, np.ndarray]]:
    """RGB images of every source in order; files that cannot be decoded (corrupt, truncated,
    beyond OpenCV's pixel limit) are logged as warnings, added to `skipped`, and passed over."""
    for source in sources:
        if not source.is_video:
            try:
                image = read_image(source.path)
            except DECODE_ERRORS as error:
                _skip(source.path, error, skipped)
                continue
            yield Frame(source), image
            continue
        index = 0
        try:
            capture = cv2.VideoCapture(str(source.path))
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                yield Frame(source, index), cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                index += 1
            capture.release()
        except cv2.error as error:
            _skip(source.path, error, skipped)
            continue
        if index == 0:
            log.warning("skipped: cannot read video frames from %s", source.path)
            skipped.append(source.path)


def _skip(path: Path, error: Exception, skipped: list[Path]) -> None:
    """Warn in one line that `path` is skipped and why; remember it."""
    if isinstance(error, DataError):
        log.warning("skipped: %s", error)
    else:
        reason = " ".join(str(error).split())
        log.warning("skipped: cannot decode image %s (%s: %s)", path, type(error).__name__, reason)
    skipped.append(path)


class OutputWriter:
    """Writes what each prediction gives: mask, colour mask and overlay files, overlay videos,
    submission rows. Use as a context manager, so videos and the CSV are closed at the end."""

    def __init__(
        self, folder: Path, alpha: float, submission: bool, palette: Palette = PALETTE
    ) -> None:
        self.folder = folder
        self.alpha = alpha
        self.palette = palette
        self.video: tuple[InputFile, cv2.VideoWriter] | None = None
        self.submission = submission
        self.csv_file: TextIO | None = None  # opened with the first prediction

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close_video()
        if self.csv_file:
            self.csv_file.close()

    def write(self, frame: Frame, image: np.ndarray, mask: np.ndarray) -> None:
        """Write the outputs of one image or video frame."""
        stem = self.folder / frame.source.stem
        stem.parent.mkdir(parents=True, exist_ok=True)
        blended = overlay(image, mask, self.alpha, self.palette)
        if frame.source.is_video:
            self._video_for(frame.source, stem, image.shape).write(blended[..., ::-1].copy())
        else:
            Image.fromarray(mask).save(stem.with_name(f"{stem.name}.png"))
            _write_image(stem.with_name(f"{stem.name}_color.png"), colorize(mask, self.palette))
            _write_image(stem.with_name(f"{stem.name}_overlay.jpg"), blended)
        if self.submission:
            if self.csv_file is None:
                self.csv_file = (self.folder / SUBMISSION_FILE).open("w", newline="")
                csv.writer(self.csv_file).writerow(["id", "class", "rle"])
            rows = csv.writer(self.csv_file)
            for class_id in range(NUM_CLASSES):
                rows.writerow([frame.id, class_id, rle.encode(mask == class_id)])

    def _video_for(self, source: InputFile, stem: Path, shape: tuple[int, ...]) -> cv2.VideoWriter:
        if self.video is not None and self.video[0] == source:
            return self.video[1]
        self._close_video()
        capture = cv2.VideoCapture(str(source.path))
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        capture.release()
        path = stem.with_name(f"{stem.name}_overlay.mp4")
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, shape[1::-1])
        if not writer.isOpened():
            raise DataError(f"cannot write video {path}: OpenCV has no mp4v encoder here")
        self.video = (source, writer)
        return writer

    def _close_video(self) -> None:
        if self.video is not None:
            self.video[1].release()
            self.video = None


def _write_image(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), rgb[..., ::-1]):
        raise DataError(f"cannot write {path}")


def check_output(folder: Path, overwrite: bool) -> None:
    """Refuse a non-empty output folder unless `overwrite`: files of the same names get replaced,
    other files stay (nothing is deleted)."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"output={folder} is a file, not a folder")
    if not overwrite and folder.is_dir() and any(folder.iterdir()):
        raise ConfigError(
            f"output folder {folder} is not empty: pass overwrite=true to write into it "
            "(replacing files of the same names), or choose another output="
        )


def build_predictor(cfg: DictConfig, model: LoadedModel) -> Predictor:
    """The Predictor the config asks for; whole-image size: `size`, else the model's, else
    `default_size`."""
    tiling = Tiling.from_config(cfg.tile) if cfg.tile.enabled else None
    size = size_pair(cfg.size) if cfg.size else model.size or size_pair(cfg.default_size)
    if tiling is None:
        if ignored := ignored_tile_keys():
            log.warning(
                "%s set but tile.enabled=false: add tile.enabled=true to predict on tiles",
                ", ".join(ignored),
            )
        log.info("Predicting whole images resized to %dx%d (height x width)", *size)
    else:
        log.info(
            "Predicting on %dx%d tiles (height x width) overlapping by %d pixels, images "
            "scaled by %g",
            *tiling.size, tiling.overlap, tiling.scale,
        )  # fmt: skip
    views = (2 if cfg.tta.hflip else 1) * len(cfg.tta.scales)
    if views > 1:
        log.info(
            "Test-time augmentation: %d views per image (tta.hflip=%s, tta.scales=%s), "
            "probabilities averaged",
            views, bool(cfg.tta.hflip), list(cfg.tta.scales),
        )  # fmt: skip
    return Predictor(
        model,
        size=size,
        tiling=tiling,
        hflip=bool(cfg.tta.hflip),
        scales=[float(scale) for scale in cfg.tta.scales],
        batch_size=int(cfg.batch_size),
    )


def ignored_tile_keys() -> list[str]:
    """The `tile.*` keys (other than `tile.enabled`) this command line sets, which only act with
    `tile.enabled=true`."""
    if not HydraConfig.initialized():
        return []
    keys = (item.split("=", 1)[0].lstrip("+~") for item in HydraConfig.get().overrides.task)
    return [key for key in keys if key.startswith("tile.") and key != "tile.enabled"]


def predict(cfg: DictConfig) -> PredictResult:
    """Segment every input of `cfg.input` and write the outputs into `cfg.output`."""
    if cfg.submission not in (None, "csv"):
        raise ConfigError(f"submission={cfg.submission} is not supported: use csv or null")
    output = Path(cfg.output)
    sources = find_inputs(str(cfg.input), output)
    check_outputs_spare_inputs(sources, str(cfg.input), output, cfg.submission == "csv")
    check_output(output, bool(cfg.overwrite))
    model = load_model(Path(cfg.ckpt_path), str(cfg.device))
    predictor = build_predictor(cfg, model)
    begin_run()  # checked: from here on the run and output folders are written
    output.mkdir(parents=True, exist_ok=True)
    result = PredictResult(output)
    frames = read_frames(sources, result.skipped)
    bar = tqdm(total=count_frames(sources), unit="image", desc="predict", disable=None)
    writer = OutputWriter(output, float(cfg.overlay_alpha), cfg.submission == "csv", model.palette)
    with writer, bar:
        for frame, image, mask in predictor.predict(frames):
            writer.write(frame, image, mask)
            result.predicted += 1
            bar.update()
    if result.predicted == 0:
        names = ", ".join(str(path) for path in result.skipped[:3])
        more = f" and {len(result.skipped) - 3} more" if len(result.skipped) > 3 else ""
        raise DataError(
            f"predicted nothing: every input was skipped as unreadable ({names}{more}); "
            "see the warnings above"
        )
    return result


@command("predict")
def main(cfg: DictConfig) -> None:
    """Predict every input, print how many and where."""
    result = predict(cfg)
    skipped = f", skipped {len(result.skipped)} unreadable file(s)" if result.skipped else ""
    show(f"Predicted {result.predicted} images/frames into {result.output}{skipped}")


if __name__ == "__main__":
    main()
