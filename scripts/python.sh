#!/usr/bin/env bash
# Runs one of the Python scripts under scripts/ with the packages it needs:
#
#   scripts/python.sh scripts/parity/make_golden.py [ARGS...]
#
# A script that needs packages names its requirements file, relative to the repository root,
# on a line `# requirements: FILE`; the interpreter comes from python_env (scripts/common.sh):
# $PYTHON if set, else a virtual environment under target/python/ made from that file.
# Scripts without such a line need only the standard library and run with $PYTHON or python3.
source "$(dirname "$0")/common.sh"

usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  '') usage >&2; exit 2 ;;
esac
script=$1
shift
[ -f "$script" ] || { echo "python.sh: no such script: $script" >&2; exit 2; }
req=$(sed -n 's/^# requirements: *//p' "$script" | head -n 1)
python_env "${req:+$root/$req}"
exec "$python" "$script" "$@"
