"""Two-stage STARK training: frame-pair sampling, augmentation, losses, loop and checkpoints."""
