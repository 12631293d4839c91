"""The offline renderer of the synthetic drone dataset (AeroScapes layout)."""

from drone_seg.synthetic.objects import generate_dataset, plan_sequences

__all__ = ["generate_dataset", "plan_sequences"]
