#!/usr/bin/env bash
# Camera-free demo (the README's first command): build or refresh the environment, then play a
# generated scene through the demo camera into the stt_tracker node over DDS, and write
# out/demo.mp4 (or .avi) plus a printed summary. Options go to the demo, e.g.
#   bash scripts/demo.sh --checkpoint ~/models/STARKST_ep0050.pth.tar
#   bash scripts/demo.sh --video clip.mp4 --rate 15
# (`python -m stt_tracker_ros.ros.demo.run --help` lists them). Runs on its own ROS_DOMAIN_ID with
# discovery limited to this host.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh"
# shellcheck source=/dev/null
source "$ROOT/.venv/env.sh"
cd "$ROOT"
exec python -m stt_tracker_ros.ros.demo.run "$@"
