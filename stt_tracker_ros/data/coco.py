"""COCO-format detection sets read as one-frame tracking sequences (one per object).

The annotation file holds `images` (id, file_name) and `annotations` (id, image_id, bbox = [x, y,
w, h] in 0-based pixels, iscrowd). Each non-crowd annotation with a positive-size box becomes a
Sequence named `<image file stem>_<annotation id>` whose single frame is its image, the way STARK
trains on COCO (a static image stands in for a video).
"""
import json
import logging
from pathlib import Path

import numpy as np

from stt_tracker_ros.data.sequence import FrameFiles, Sequence

LOGGER = logging.getLogger(__name__)


def read_coco(annotations: str | Path, images_dir: str | Path | None = None) -> list[Sequence]:
    """Read every usable object of a COCO-format set, in annotation-file order.

    Args:
        annotations: the annotations JSON file.
        images_dir: folder the `file_name`s are relative to; defaults to `images/` beside the
            JSON file (the layout of this project's `det/<set>/`). For COCO itself pass e.g.
            `train2017/`.

    Returns:
        One single-frame Sequence per non-crowd annotation with w > 0 and h > 0.
    """
    annotations = Path(annotations)
    images_dir = Path(images_dir) if images_dir is not None else annotations.parent / 'images'
    content = json.loads(annotations.read_text())
    files = {image['id']: images_dir / image['file_name'] for image in content['images']}
    sequences, skipped = [], 0
    for ann in content['annotations']:
        box = np.asarray(ann['bbox'], np.float64).reshape(1, 4)
        if ann.get('iscrowd', 0) or not (box[0, 2] > 0 and box[0, 3] > 0):
            skipped += 1
            continue
        path = files[ann['image_id']]
        name = f'{path.stem}_{ann["id"]}'
        sequences.append(Sequence(name, FrameFiles([path]), box, np.ones(1, bool)))
    if skipped:
        LOGGER.info('%s: skipped %d crowd or empty annotations', annotations, skipped)
    return sequences
