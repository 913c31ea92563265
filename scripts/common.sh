# Sourced by every shell script under scripts/ (`source "$(dirname "$0")/../common.sh"`):
# strict mode, where things are, and the helpers more than one script needs. It changes no
# directory, so paths given on a script's command line keep their meaning.
#
#   DATA=DIR   the labelled data sets (default: ../shared/data beside the repository)
#   BIN=FILE   the lstm-sentiment binary (default: target/release/lstm-sentiment)
#   PYTHON=X   the Python interpreter for the Python scripts (see python_env)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${DATA:-$root/../shared/data}"
bin="${BIN:-$root/target/release/lstm-sentiment}"

# Builds the release binary when $bin does not exist yet.
need_bin() {
  [ -x "$bin" ] || (cd "$root" && cargo build --release --quiet)
}

# Sets $work to a new temporary folder, removed when the script exits.
make_work() {
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
}

# The median of the numbers on stdin, one per line.
median() {
  sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# python_env [REQUIREMENTS]: sets $python to the interpreter that runs a script needing the
# packages of REQUIREMENTS (a pip requirements file). $PYTHON wins when set: its environment
# must have the packages. Otherwise a virtual environment is made under
# target/python/DIR-NAME (the file's folder and its name without .txt) and the requirements installed into
# it; it is kept, and installed again when the requirements file changes. pip reads its usual
# settings, e.g. PIP_EXTRA_INDEX_URL. Without REQUIREMENTS: $PYTHON, else python3.
python_env() {
  local req=${1:-}
  if [ -n "${PYTHON:-}" ]; then
    python=$PYTHON
  elif [ -z "$req" ]; then
    python=python3
  else
    local venv
    # Named after the file's folder and name: scripts/parity/requirements.txt and
    # scripts/experiments/requirements.txt get environments of their own.
    venv="$root/target/python/$(basename "$(dirname "$req")")-$(basename "$req" .txt)"
    if ! cmp -s "$req" "$venv/requirements.txt"; then
      echo "python_env: installing $req into $venv" >&2
      [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
      "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
      "$venv/bin/python" -m pip install --quiet -r "$req" >&2
      cp "$req" "$venv/requirements.txt"
    fi
    python="$venv/bin/python"
  fi
}
