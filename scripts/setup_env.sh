#!/usr/bin/env bash
# Build the development environment in .venv: the Python packages and ROS 2 Kilted wheels of
# requirements/dev.txt, our vision_msgs replica and this package's messages (colcon), and
# .venv/env.sh to source.
#
# Idempotent and fast when nothing changed: every step records a hash of its inputs in a stamp
# file under .venv/stamps and is skipped while the hash matches. Prints nothing when up to date.
# Fails loudly (non-zero exit, log tail on stderr) when any step fails.
#
# Environment knobs:
#   STT_PYTHON   interpreter for the venv (default: python3.11; the ROS 2 wheels need 3.11)
#   STT_FORCE=1  ignore the stamps and redo every step
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMPS="$VENV/stamps"
LOGS="$VENV/logs"
WS="$VENV/ros_ws"
INSTALL="$WS/install"
PYTHON="${STT_PYTHON:-python3.11}"
DEFAULT_DOMAIN_ID=42
REQUIREMENTS="$ROOT/requirements/dev.txt"

log() { printf 'setup_env: %s\n' "$*" >&2; }

die() {
  log "FAILED: $1"
  if [[ -n "${2:-}" && -f "$2" ]]; then
    log "last lines of $2:"
    tail -n 60 "$2" | grep -v 'is ignored: it is neither a file nor a directory' >&2 || true
  fi
  exit 1
}

# The requirements of a pip requirements file, one a line: comments and blank lines dropped,
# `-r FILE` lines (relative to the file's folder) replaced by that file's requirements.
read_requirements() {
  local file="$1" line
  [[ -f "$file" ]] || die "no requirements file $file"
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%%#*}"
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    if [[ "$line" == '-r '* ]]; then
      read_requirements "$(dirname "$file")/${line#-r }"
    elif [[ -n "$line" ]]; then
      printf '%s\n' "$line"
    fi
  done < "$file"
}

# Hash of everything given on stdin (paths and contents are fed by the callers).
digest() { sha256sum | cut -d' ' -f1; }

# Hash of the contents of the given files, in a stable order, including their paths.
hash_files() {
  local f
  for f in "$@"; do
    printf '%s\n' "${f#"$ROOT"/}"
    cat "$f"
  done | digest
}

is_fresh() { [[ "${STT_FORCE:-0}" != 1 && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }

mark_done() { printf '%s\n' "$2" > "$STAMPS/$1"; }

# Run a command with its output in a log file; on failure show the tail and stop.
run_logged() {
  local logfile="$1" rc=0
  shift
  "$@" > "$logfile" 2>&1 || rc=$?
  [[ $rc == 0 ]] || die "$* (exit code $rc)" "$logfile"
}

step_venv() {
  command -v "$PYTHON" > /dev/null || die "$PYTHON not found (the ROS 2 wheels need CPython 3.11)"
  local version
  version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  [[ "$version" == 3.11 ]] || die "$PYTHON is Python $version; the ROS 2 Kilted wheels need 3.11"
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c '' 2> /dev/null; then
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv $VENV"
  fi
  mkdir -p "$STAMPS" "$LOGS"
}

# The wheels' CMake exports name include folders of the machine that built them
# (/opt/python/cp311-cp311/...); point them at this interpreter's and this venv's folders.
fix_wheel_cmake_paths() {
  local py_include np_include files
  py_include="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  np_include="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
  [[ -f "$py_include/Python.h" ]] || die "no Python.h in $py_include (install the 3.11 headers)"
  local built='/opt/python/cp311-cp311'
  files="$(grep -rlI "$built" "$VENV/share" || true)"
  if [[ -n "$files" ]]; then
    printf '%s\n' "$files" | xargs sed -i \
      -e "s#$built/include/python3.11#$py_include#g" \
      -e "s#$built/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
      -e "s#$built#$VENV#g"
  fi
}

step_pip() {
  local key listing packages
  listing="$(read_requirements "$REQUIREMENTS")" || exit 1
  mapfile -t packages <<< "$listing"
  key="$(printf '%s\n' "$VENV" "${packages[@]}" | digest)"
  is_fresh pip "$key" && return 0
  local start=$SECONDS
  log "installing Python packages and ROS 2 wheels into .venv (a minute or two)"
  run_logged "$LOGS/pip.log" "$VENV/bin/python" -m pip install --disable-pip-version-check \
    "${packages[@]}"
  "$VENV/bin/python" -c 'import torch, sys; sys.exit(torch.version.cuda is not None)' \
    || log "warning: the torch installed in .venv is a CUDA build; expected the CPU build"
  fix_wheel_cmake_paths
  mark_done pip "$key"
  log "  done in $((SECONDS - start)) s"
}

step_editable() {
  local key
  key="$( (cat "$STAMPS/pip"; hash_files "$ROOT/setup.py" "$ROOT/package.xml" \
    "$ROOT"/requirements/*.txt) | digest)"
  is_fresh editable "$key" && return 0
  log "pip install -e . (no dependency resolution: torch stays as installed)"
  run_logged "$LOGS/editable.log" "$VENV/bin/python" -m pip install --disable-pip-version-check \
    --no-deps --no-build-isolation -e "$ROOT"
  mark_done editable "$key"
}

# Inputs of the colcon build: message and package definitions, launchers, launch and config files
# and the shipped weights (contents), plus the names of the Python files that get copied to the
# install tree (their contents do not matter: the source tree comes first on PYTHONPATH).
ros_build_key() {
  local -a inputs
  mapfile -t inputs < <(cd "$ROOT" && find package.xml CMakeLists.txt msg scripts/ros \
    tools/vision_msgs launch config stt_tracker_ros/weights -type f 2> /dev/null | LC_ALL=C sort)
  {
    cat "$STAMPS/pip"
    printf '%s\n' "$ROOT"
    hash_files "${inputs[@]/#/$ROOT/}"
    (cd "$ROOT" && find stt_tracker_ros -name '*.py' | LC_ALL=C sort)
  } | digest
}

step_ros_build() {
  local key generator=()
  key="$(ros_build_key)"
  is_fresh ros_build "$key" && return 0
  local start=$SECONDS
  log "building vision_msgs (replica) and stt_tracker_ros with colcon (about a minute)"
  mkdir -p "$WS/src"
  ln -sfn "$ROOT" "$WS/src/stt_tracker_ros"
  ln -sfn "$ROOT/tools/vision_msgs" "$WS/src/vision_msgs"
  command -v ninja > /dev/null && generator=(-G Ninja)
  # Files deleted from the source tree must not linger in the installed copy.
  rm -rf "$INSTALL/lib/python3.11/site-packages/stt_tracker_ros"
  (
    cd "$WS"
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    export MAKEFLAGS="-j$(nproc)"
    run_logged "$LOGS/colcon.log" "$VENV/bin/colcon" --log-base "$WS/log" build --merge-install \
      --base-paths src --build-base build --install-base install \
      --event-handlers console_direct+ \
      --cmake-args -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$VENV/bin/python" "${generator[@]}"
  )
  [[ -x "$INSTALL/lib/stt_tracker_ros/tracker_node" ]] || die "colcon installed no tracker_node"
  mark_done ros_build "$key"
  log "  done in $((SECONDS - start)) s"
}

write_env_sh() {
  local site="$INSTALL/lib/python3.11/site-packages" tmp="$VENV/env.sh.tmp" libs_dir
  local lib_lines=''
  # The wheels ship a .pth hook that re-executes every Python start with LD_LIBRARY_PATH set to
  # these folders; setting them here (and its guard variable) saves that second exec.
  for libs_dir in "$VENV"/lib/python3.11/site-packages/ros_*.libs "$VENV/lib" "$INSTALL/lib"; do
    [[ -d "$libs_dir" ]] && lib_lines+="_stt_prepend LD_LIBRARY_PATH '$libs_dir'"$'\n'
  done
  cat > "$tmp" << EOF
# Generated by scripts/setup_env.sh; source it from bash: \`source .venv/env.sh\`.
# Activates the venv, the ROS 2 prefixes (pip wheels in .venv, our colcon install in
# .venv/ros_ws/install) and puts the source tree first on PYTHONPATH so edits apply at once.
_stt_prepend() {  # _stt_prepend VAR DIR: put DIR first in VAR unless it is already there
  case ":\${!1:-}:" in
    *":\$2:"*) ;;
    *) export "\$1=\$2\${!1:+:\${!1}}" ;;
  esac
}
export VIRTUAL_ENV='$VENV'
export STT_ROS_INSTALL='$INSTALL'
_stt_prepend PATH '$VENV/bin'
_stt_prepend AMENT_PREFIX_PATH '$VENV'
_stt_prepend AMENT_PREFIX_PATH '$INSTALL'
_stt_prepend CMAKE_PREFIX_PATH '$VENV'
_stt_prepend CMAKE_PREFIX_PATH '$INSTALL'
${lib_lines}export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
_stt_prepend PYTHONPATH '$site'
_stt_prepend PYTHONPATH '$ROOT'
unset -f _stt_prepend
export ROS_VERSION=2 ROS_PYTHON_VERSION=3 ROS_DISTRO="\${ROS_DISTRO:-kilted}"
export RMW_IMPLEMENTATION="\${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Defaults only: a shell that already chose its discovery (either variable; ROS_LOCALHOST_ONLY=1
# would override any range) or domain keeps it, so cameras on other hosts stay visible there.
if [[ -z "\${ROS_AUTOMATIC_DISCOVERY_RANGE:-}\${ROS_LOCALHOST_ONLY:-}" ]]; then
  export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_LOCALHOST_ONLY=1
fi
export ROS_DOMAIN_ID="\${ROS_DOMAIN_ID:-$DEFAULT_DOMAIN_ID}"
# Camera-sized images over shared memory without loss (README: "Frames lost before the node").
export FASTDDS_DEFAULT_PROFILES_FILE="\${FASTDDS_DEFAULT_PROFILES_FILE:-$ROOT/config/fastdds_large_frames.xml}"
EOF
  if cmp -s "$tmp" "$VENV/env.sh"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$VENV/env.sh"
  fi
}

# Quick proof that the environment works; only after a step did something.
check_env() {
  local out
  if ! out="$(cd / && bash -c "source '$VENV/env.sh' && python -c '
import rclpy
import stt_tracker_ros
from stt_tracker_ros.msg import TrackStatus
from vision_msgs.msg import Detection2D
assert stt_tracker_ros.__path__[0] == \"$ROOT/stt_tracker_ros\", stt_tracker_ros.__path__
'" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "sourcing .venv/env.sh does not give rclpy, vision_msgs and stt_tracker_ros.msg"
  fi
}

step_check() {
  local key
  key="$(cat "$STAMPS/pip" "$STAMPS/editable" "$STAMPS/ros_build" "$VENV/env.sh" | digest)"
  is_fresh check "$key" && return 0
  check_env
  mark_done check "$key"
  log "ready after $SECONDS s: source .venv/env.sh"
}

main() {
  # A venv hard-codes its own path (script shebangs, stamps, env.sh): rebuild it after a move.
  if [[ -f "$STAMPS/location" && "$(cat "$STAMPS/location")" != "$VENV" ]]; then
    log "the repository moved; recreating $VENV"
    rm -rf "$VENV"
  fi
  mkdir -p "$VENV"
  exec 9> "$VENV/.setup.lock"
  flock 9
  step_venv
  printf '%s\n' "$VENV" > "$STAMPS/location"
  step_pip
  step_editable
  step_ros_build
  write_env_sh
  step_check
}

main "$@"
