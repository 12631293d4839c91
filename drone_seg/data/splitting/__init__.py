"""Train/val splits: the strategies (assignment), the stratification search, the split report."""
