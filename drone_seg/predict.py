"""Segment images, folders, globs or videos with a trained model, writing masks and overlays.

    python -m drone_seg.predict ckpt_path=FILE input=PATH output=DIR [tile.enabled=true] [...]

`ckpt_path` is a training checkpoint (.ckpt), an ONNX file or a TorchScript file (see
`drone_seg.export`). Each image gives `<stem>.png` (class ids, mode L, full resolution),
`<stem>_color.png` and `<stem>_overlay.jpg`, under the same subfolders as in the input; each video
gives `<stem>_overlay.mp4`; `submission=csv` adds `submission.csv` (see `drone_seg.inference.rle`).
"""

from __future__ import annotations

import csv
import glob
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path
from types import TracebackType

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig
from PIL import Image
from tqdm import tqdm

from drone_seg.classes import NUM_CLASSES
from drone_seg.data.io import IMAGE_SUFFIXES, read_image
from drone_seg.errors import ConfigError, DataError, DroneSegError
from drone_seg.inference import rle
from drone_seg.inference.loading import LoadedModel, load_model
from drone_seg.inference.predictor import Predictor, Tiling
from drone_seg.train import CONFIG_DIR
from drone_seg.visualize import colorize, overlay

log = logging.getLogger(__name__)

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm"})
SUBMISSION_FILE = "submission.csv"


@dataclass(frozen=True)
class Source:
    """An input file and the stem its outputs are named after (relative path, no suffix)."""

    path: Path
    stem: str

    @property
    def is_video(self) -> bool:
        return self.path.suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class Frame:
    """One image to segment: an image file (index 0) or frame `index` of a video."""

    source: Source
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


def find_sources(pattern: str) -> list[Source]:
    """The image and video files `pattern` names: a file, a folder (recursively) or a glob.

    Stems keep the path relative to the folder (or to the glob's fixed leading folders), so
    outputs keep the input's subfolders and same-named files in different folders do not clash.
    """
    path = Path(pattern)
    if path.is_file():
        return [Source(path, path.stem)]
    if path.is_dir():
        base, files = path, path.rglob("*")
    else:
        base = Path(*takewhile(lambda part: not set(part) & set("*?["), path.parts))
        files = (Path(name) for name in glob.iglob(pattern, recursive=True))
    known = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    found = sorted(f for f in files if f.is_file() and f.suffix.lower() in known)
    if not found:
        raise DataError(f"input={pattern} names no image or video file (nor a folder holding any)")
    sources = [Source(f, f.relative_to(base).with_suffix("").as_posix()) for f in found]
    stems: dict[str, Path] = {}
    for source in sources:
        if source.stem in stems:
            raise DataError(
                f"input={pattern}: {stems[source.stem]} and {source.path} would write the same "
                "output files; rename one or predict them separately"
            )
        stems[source.stem] = source.path
    return sources


def count_frames(sources: list[Source]) -> int:
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


def read_frames(sources: list[Source], skipped: list[Path]) -> Iterator[tuple[Frame, np.ndarray]]:
    """RGB images of every source in order; unreadable files are logged, added to `skipped`."""
    for source in sources:
        if not source.is_video:
            try:
                yield Frame(source), read_image(source.path)
            except DataError as error:
                log.warning("skipped: %s", error)
                skipped.append(source.path)
            continue
        capture = cv2.VideoCapture(str(source.path))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield Frame(source, index), cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
        capture.release()
        if index == 0:
            log.warning("skipped: cannot read video frames from %s", source.path)
            skipped.append(source.path)


class OutputWriter:
    """Writes what each prediction gives: mask, colour mask and overlay files, overlay videos,
    submission rows. Use as a context manager, so videos and the CSV are closed at the end."""

    def __init__(self, folder: Path, alpha: float, submission: bool) -> None:
        self.folder = folder
        self.alpha = alpha
        self.video: tuple[Source, cv2.VideoWriter] | None = None
        self.csv_file = (folder / SUBMISSION_FILE).open("w", newline="") if submission else None
        self.csv = csv.writer(self.csv_file) if self.csv_file else None
        if self.csv:
            self.csv.writerow(["id", "class", "rle"])

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
        blended = overlay(image, mask, self.alpha)
        if frame.source.is_video:
            self._video_for(frame.source, stem, image.shape).write(blended[..., ::-1].copy())
        else:
            Image.fromarray(mask).save(stem.with_name(f"{stem.name}.png"))
            _write_image(stem.with_name(f"{stem.name}_color.png"), colorize(mask))
            _write_image(stem.with_name(f"{stem.name}_overlay.jpg"), blended)
        if self.csv:
            for class_id in range(NUM_CLASSES):
                self.csv.writerow([frame.id, class_id, rle.encode(mask == class_id)])

    def _video_for(self, source: Source, stem: Path, shape: tuple[int, ...]) -> cv2.VideoWriter:
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
    tiling = None
    if cfg.tile.enabled:
        tiling = Tiling(_pair(cfg.tile.size), int(cfg.tile.overlap), float(cfg.tile.scale))
    size = _pair(cfg.size) if cfg.size else model.size or _pair(cfg.default_size)
    if tiling is None:
        log.info("Predicting whole images resized to %dx%d (height x width)", *size)
    return Predictor(
        model,
        size=size,
        tiling=tiling,
        hflip=bool(cfg.tta.hflip),
        scales=[float(scale) for scale in cfg.tta.scales],
        batch_size=int(cfg.batch_size),
    )


def _pair(value: int | list[int]) -> tuple[int, int]:
    """A (height, width) from a [height, width] config list or one int for a square."""
    if isinstance(value, int):
        return value, value
    height, width = value
    return int(height), int(width)


def predict(cfg: DictConfig) -> PredictResult:
    """Segment every input of `cfg.input` and write the outputs into `cfg.output`."""
    if cfg.submission not in (None, "csv"):
        raise ConfigError(f"submission={cfg.submission} is not supported: use csv or null")
    output = Path(cfg.output)
    check_output(output, bool(cfg.overwrite))
    sources = find_sources(str(cfg.input))
    model = load_model(Path(cfg.ckpt_path), str(cfg.device))
    predictor = build_predictor(cfg, model)
    output.mkdir(parents=True, exist_ok=True)
    result = PredictResult(output)
    frames = read_frames(sources, result.skipped)
    bar = tqdm(total=count_frames(sources), unit="image", desc="predict", disable=None)
    with OutputWriter(output, float(cfg.overlay_alpha), cfg.submission == "csv") as writer, bar:
        for frame, image, mask in predictor.predict(frames):
            writer.write(frame, image, mask)
            result.predicted += 1
            bar.update()
    return result


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    """Hydra entry point. User errors end in one line."""
    try:
        result = predict(cfg)
    except DroneSegError as error:
        raise SystemExit(f"error: {error}") from None
    skipped = f", skipped {len(result.skipped)} unreadable file(s)" if result.skipped else ""
    print(f"Predicted {result.predicted} images/frames into {result.output}{skipped}")


if __name__ == "__main__":
    main()
