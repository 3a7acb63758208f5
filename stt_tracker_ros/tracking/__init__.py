"""Per-frame tracking logic: image array and box in, TrackResult out."""
