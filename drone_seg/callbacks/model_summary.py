"""Lightning's rich model summary, with the FLOPs of one training crop counted.

Lightning counts FLOPs only by running a module's `example_input_array` through its batch hooks,
which our dict batches cannot provide, and otherwise prints "Total FLOPs: 0". This summary runs
one uint8 image of `input_size` through the network in eval mode under the summary's counter.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import RichModelSummary
from lightning.pytorch.utilities.model_summary import ModelSummary

from drone_seg.runs.run_log import ANSI_CODES, keep

log = logging.getLogger(__name__)


class _DefaultSummaryNotice(logging.Filter):
    """Drops Lightning's notice that it skips its default summary: this one replaces it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Skipping setting a default `ModelSummary`" not in record.getMessage()


_NOTICE_FILTER = _DefaultSummaryNotice()


class FlopsModelSummary(RichModelSummary):
    """The summary table of the network's layers, its parameters and the FLOPs of a forward pass
    of one `input_size` image (none counted with `count_flops=false` or a compiled network)."""

    def __init__(self, input_size: Sequence[int], max_depth: int, count_flops: bool) -> None:
        super().__init__(max_depth=max_depth)
        self.input_size = tuple(int(size) for size in input_size)
        self.count_flops = count_flops
        logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_NOTICE_FILTER)

    @staticmethod
    def summarize(*args: Any, **kwargs: Any) -> None:
        """Lightning's table, shown on the console as before, and drawn once more as plain text
        for the run log."""
        RichModelSummary.summarize(*args, **kwargs)
        with contextlib.redirect_stdout(io.StringIO()) as text:
            RichModelSummary.summarize(*args, **kwargs)
        keep(ANSI_CODES.sub("", text.getvalue()).rstrip("\n"))

    def _summary(self, trainer: L.Trainer, pl_module: L.LightningModule) -> ModelSummary:
        summary = super()._summary(trainer, pl_module)
        counter = getattr(summary, "_flop_counter", None)
        if counter is None or not self.count_flops or _compiled(pl_module):
            return summary
        images = torch.zeros((1, 3, *self.input_size), dtype=torch.uint8, device=pl_module.device)
        modes = {module: module.training for module in pl_module.modules()}
        pl_module.eval()
        try:
            with torch.no_grad(), counter:
                pl_module(images)
        finally:
            for module, training in modes.items():
                module.training = training
        if trainer.is_global_zero:
            log.info("FLOPs: one forward pass of a 1x3x%dx%d image", *self.input_size)
        return summary


def _compiled(module: torch.nn.Module) -> bool:
    """Whether a submodule is torch.compile'd (counting would compile it at start-up)."""
    return any(getattr(m, "_compiled_call_impl", None) is not None for m in module.modules())
