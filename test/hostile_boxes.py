"""Init boxes of issue 13 that used to pass the box check and crash the crop, as
BoundingBox2D (centre x, centre y, size x, size y) on a 320x240 frame, each with what its
rejection must say. Shared by the unit tests of the box limits and the node-process test."""

ISSUE_BOXES = [
    ((160.0, 120.0, 1e-200, 1e-200), 'too small'),
    ((320.0, 120.0, 0.2, 0.2), 'too small'),
    ((319.95, 239.95, 0.1, 0.1), 'too small'),
    ((319.99, 120.0, 0.02, 30.0), 'too small'),
    ((160.0, 120.0, 5e-324, 5e-324), 'too small'),
    ((160.0, 120.0, 0.001, 0.001), 'too small'),
    ((10.0 - 1e6, 120.0, 2e6, 30.0), 'too large'),     # overlaps the image by 10 px
    ((160.0, 120.0, 1e300, 30.0), 'too large'),
    ((160.0, 120.0, 1.7976931348623157e308, 30.0), 'too large'),
    ((160.0, 120.0, 1e30, 1e30), 'too large'),
    ((160.0, 120.0, 30.0, 1e300), 'too large'),
    ((160.0, 120.0, 1e5, 1e5), 'too large'),
    ((160.0, 120.0, 1e6, 1e6), 'too large'),
]
