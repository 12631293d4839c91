"""Session fixtures of the data tests: AeroScapes' real label table and its written twin."""

from __future__ import annotations

import pytest

from helpers.aeroscapes_twin import LabelTable, Twin, read_label_table, write_twin


@pytest.fixture(scope="session")
def aeroscapes_labels() -> LabelTable:
    """AeroScapes' per-image labels, read once from the committed table."""
    return read_label_table()


@pytest.fixture(scope="session")
def aeroscapes_twin(
    tmp_path_factory: pytest.TempPathFactory, aeroscapes_labels: LabelTable
) -> Twin:
    """The 3,269-image label twin of AeroScapes (72x128 masks), written once per session."""
    folder = tmp_path_factory.mktemp("aeroscapes_twin")
    root = write_twin(folder / "aeroscapes", aeroscapes_labels)
    return Twin(root, folder / "cache", aeroscapes_labels)
