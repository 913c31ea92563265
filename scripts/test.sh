#!/usr/bin/env bash
# Every test of the repository: the Rust tests, then the Python package's.
#
#   scripts/test.sh            cargo test, then the Python tests
#   scripts/test.sh rust       only cargo test
#   scripts/test.sh python     only the Python tests
#
# The Python stage builds the wheel with maturin (python/), installs it into a fresh virtual
# environment under target/python/test with python/requirements-test.txt (pytest, pyarrow,
# numpy, pyspark 4, pandas), and runs pytest on python/tests, whose Spark tests start a
# two-executor local cluster (they need Java 17 or later). The wheel is built in Cargo's dev
# profile, whose optimized dependencies `cargo test` has already built; WHEEL_PROFILE=release
# builds it as `pip install` does. Needs python3 (3.9 or later, with venv) and the package
# registries (crates.io, PyPI).
source "$(dirname "$0")/common.sh"
cd "$root"

stage=${1:-all}
case "$stage" in
  all | rust | python) ;;
  -h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "test.sh: unknown stage '$stage' (all, rust or python)" >&2; exit 2 ;;
esac

if [ "$stage" != python ]; then
  cargo test
fi
[ "$stage" != rust ] || exit 0
echo "test.sh: the Python tests, ${SECONDS}s in"

if ! java -version >/dev/null 2>&1; then
  echo "test.sh: the Spark tests need Java 17 or later, and \`java -version\` fails." >&2
  echo "  Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless" >&2
  echo "  elsewhere: any JDK or JRE 17+, with java on PATH or JAVA_HOME set" >&2
  exit 1
fi

venv="$root/target/python/test"
wheels="$root/target/python/wheels"
rm -rf "$venv" "$wheels"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r python/requirements-test.txt
"$venv/bin/maturin" build --quiet --manifest-path python/Cargo.toml \
  --profile "${WHEEL_PROFILE:-dev}" --out "$wheels"
"$venv/bin/python" -m pip install --quiet "$wheels"/*.whl

# The reference the tests compare with: the command-line tool, as `cargo test` built it.
cargo build --quiet --bin lstm-sentiment
export LSTM_SENTIMENT_BIN="$root/target/debug/lstm-sentiment"
status=0
"$venv/bin/python" -m pytest python/tests -p no:cacheprovider || status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
fi
exit "$status"
