"""Shrink the training data (plain sequences and COCO-format sets) into a small local copy.

Every image is re-encoded as JPEG at `--quality`, downscaled first when its long side exceeds
`--max-side`; the ground-truth boxes (`groundtruth.txt`, COCO `bbox`, `area`, `width`, `height`)
are scaled by the same factor. Used by scripts/pack_training_data.sh to build `.data/` (ignored by
git: the data must never enter the repository) small enough to travel to a GPU machine.

    python scripts/pack_training_data.py plain SRC_ROOT DST_ROOT --quality 80 --max-side 640
    python scripts/pack_training_data.py coco SRC_SET DST_SET --quality 80 --max-side 640
"""
import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np


def _shrink(source: Path, target: Path, quality: int, max_side: int) -> float:
    """Re-encode one image; returns the scale factor applied to it."""
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f'cannot read image {source}')
    scale = min(1.0, max_side / max(image.shape[:2]))
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target.with_suffix('.jpg')), image,
                       [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f'cannot write {target}')
    return scale


def pack_plain(source: Path, target: Path, quality: int, max_side: int) -> None:
    """Every `<name>/img/*` + `groundtruth.txt` folder under `source`."""
    for folder in sorted(p for p in source.iterdir() if (p / 'groundtruth.txt').is_file()):
        out = target / folder.name
        scales = [_shrink(image, out / 'img' / image.name, quality, max_side)
                  for image in sorted((folder / 'img').iterdir())]
        if len(set(scales)) > 1:
            raise ValueError(f'{folder}: frames of different sizes')
        lines = []
        for line in (folder / 'groundtruth.txt').read_text().splitlines():
            if line.strip():
                values = np.array([float(v) for v in line.replace('\t', ',')
                                   .replace(' ', ',').split(',') if v][:4])
                lines.append(','.join(f'{v:.2f}' for v in values * scales[0]))
        (out / 'groundtruth.txt').write_text('\n'.join(lines) + '\n')
        if (folder / 'meta.json').is_file():
            shutil.copy(folder / 'meta.json', out / 'meta.json')


def pack_coco(source: Path, target: Path, quality: int, max_side: int) -> None:
    """One `<set>/annotations.json` + `images/` folder."""
    content = json.loads((source / 'annotations.json').read_text())
    scales = {}
    for image in content['images']:
        scale = _shrink(source / 'images' / image['file_name'],
                        target / 'images' / image['file_name'], quality, max_side)
        scales[image['id']] = scale
        image['file_name'] = str(Path(image['file_name']).with_suffix('.jpg'))
        image['width'] = round(image['width'] * scale)
        image['height'] = round(image['height'] * scale)
    for ann in content['annotations']:
        scale = scales[ann['image_id']]
        ann['bbox'] = [round(v * scale, 2) for v in ann['bbox']]
        ann['area'] = round(ann.get('area', 0.0) * scale * scale, 2)
        ann.pop('segmentation', None)
    (target / 'annotations.json').write_text(json.dumps(content))


def main() -> None:
    """Parse the arguments and pack one source."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('layout', choices=('plain', 'coco'))
    parser.add_argument('source', type=Path)
    parser.add_argument('target', type=Path)
    parser.add_argument('--quality', type=int, default=80)
    parser.add_argument('--max-side', type=int, default=640)
    args = parser.parse_args()
    pack = pack_plain if args.layout == 'plain' else pack_coco
    pack(args.source, args.target, args.quality, args.max_side)


if __name__ == '__main__':
    main()
