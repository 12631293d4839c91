"""Image/mask pairs as tensors: uint8 CHW images and uint8 class-id masks, optionally augmented
(copy-paste of rare-class regions from another sample, then the albumentations pipeline)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from drone_seg.data.copy_paste import CopyPaste
from drone_seg.data.io import EncodedImage, read_encoded, read_mask
from drone_seg.data.layout import Samples
from drone_seg.data.scaled_decode import EncodedPipeline
from drone_seg.errors import DataError

Transform = Callable[..., dict[str, Any]]


class SampleError(DataError):
    """A sample that cannot be read (naming its file), found after the start-up scan.

    A DataLoader worker sends its error to the main process as the text of the whole traceback and
    rebuilds it from that text; only the last line, this error's own message, is kept, so that
    the command still reports one line.
    """

    def __init__(self, message: str) -> None:
        own = message.rstrip().rpartition("\n")[2].partition(f"{type(self).__name__}: ")[2]
        super().__init__(own if message.startswith("Caught ") and own else message)


class SegmentationDataset(Dataset):
    """The samples of a dataset rooted at `root`, read from disk on each access.

    Images and masks stay uint8 so that batches cross to the device small (4x and 8x fewer bytes
    than float32 and int64); the module normalizes images and widens masks there. `copy_paste`
    (training only) acts on keys that carry a seed, before `transform`. JPEGs reach `transform`
    encoded (`EncodedPipeline`): a first crop that shrinks enough decodes them at reduced scale;
    a sample copy-paste pastes into is decoded whole (the paste is at native resolution).
    """

    def __init__(
        self,
        root: Path,
        samples: Samples,
        transform: Transform | None = None,
        copy_paste: CopyPaste | None = None,
    ) -> None:
        self.root = Path(root)
        self.samples = samples
        self.ids = samples.ids
        self.transform = transform
        self.pipeline = EncodedPipeline(transform) if transform is not None else None
        self.copy_paste = copy_paste

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """Return sample `key`, or sample `key[0]` augmented with random seed `key[1]`."""
        index, seed = key if isinstance(key, tuple) else (key, None)
        pasting = seed is not None and self.copy_paste is not None and self.copy_paste.pastes(seed)
        image, mask = self.read(index) if pasting else self.read_encoded(index)
        if pasting:
            image, mask = self.copy_paste(index, seed, image, mask, self.read)
        if seed is not None and hasattr(self.transform, "set_random_seed"):
            self.transform.set_random_seed(seed)
        if self.pipeline is not None:
            try:
                sample = self.pipeline(image, mask)
            except DataError as error:  # an image that cannot be decoded, named
                raise SampleError(str(error)) from None
            image, mask = sample["image"], sample["mask"]
        elif isinstance(image, EncodedImage):
            image = self.decode(image)
        # torch shares the arrays' memory: a read-only one (PIL's masks) is copied, not wrapped.
        return {
            "image": torch.from_numpy(np.require(image.transpose(2, 0, 1), None, ["C", "W"])),
            "mask": torch.from_numpy(np.require(mask, np.uint8, ["C", "W"])),
            "index": index,
        }

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The image (H, W, 3) and mask (H, W) of sample `index`, as stored."""
        image, mask = self.read_encoded(index)
        return (self.decode(image) if isinstance(image, EncodedImage) else image), mask

    def read_encoded(self, index: int) -> tuple[EncodedImage | np.ndarray, np.ndarray]:
        """`read`, with a JPEG image left encoded (its size known from its header)."""
        image_path, mask_path = self.samples.image_paths[index], self.samples.mask_paths[index]
        try:
            image, mask = read_encoded(image_path), read_mask(mask_path)
        except DataError as error:
            raise SampleError(str(error)) from None
        if image.shape[:2] != mask.shape:
            raise SampleError(
                f"image {image_path} is {image.shape[1]}x{image.shape[0]} but its mask "
                f"{mask_path} is {mask.shape[1]}x{mask.shape[0]}: masks must match their images"
            )
        return image, mask

    @staticmethod
    def decode(image: EncodedImage) -> np.ndarray:
        """The whole image, a decoding error raised as a `SampleError`."""
        try:
            return image.decode()
        except DataError as error:
            raise SampleError(str(error)) from None
