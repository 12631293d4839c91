"""Train/val splits: the strategies (assignment), the stratification search, the split's checks,
the split report."""
