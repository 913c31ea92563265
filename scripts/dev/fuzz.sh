#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for a bounded time and prints, per target, the inputs
# executed and the crashes found (saved under fuzz/artifacts/TARGET/).
#
#   scripts/dev/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly-only -Z flags, so this
# runs the default (stable) toolchain with RUSTC_BOOTSTRAP=1; FUZZ_NIGHTLY=1 uses +nightly instead.
# The first build compiles every dependency with sanitizer flags: about 20 minutes on 2 cores.
# Inputs found interesting are kept in fuzz/corpus/TARGET/ and reused by the next run; seeds
# come from fuzz/seeds/. A crash becomes a regression test plus the fix: in
# tests/integration/errors.rs for a data file, tests/integration/load_errors.rs for a model.
source "$(dirname "$0")/../common.sh"
cd "$root/fuzz"
seconds=${1:-60}
shift || true

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz.sh: cargo-fuzz is not installed; run: cargo install cargo-fuzz" >&2
    exit 2
fi
if [ "${FUZZ_NIGHTLY:-0}" = 1 ]; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <("${fuzz[@]}" list)
fi

# Release code with overflow checks and debug assertions on, under AddressSanitizer.
build=(--release --debug-assertions)
"${fuzz[@]}" build "${build[@]}"

# The loader target reads config.json, tokenizer.json and model.safetensors from one input,
# separated as in fuzz_targets/model_loader.rs.
mkdir -p corpus/model_loader logs
{
    cat seeds/model/config.json
    printf '\0--8<--\0'
    cat seeds/model/tokenizer.json
    printf '\0--8<--\0'
    cat seeds/model/model.safetensors
} >corpus/model_loader/seed-tiny-model

seeds_of() {
    case $1 in
        data_*) echo seeds/data ;;
        vectors_*) echo seeds/vectors ;;
        model_loader) ;;
        model_*) echo seeds/model ;;
    esac
}

summary=()
total_crashes=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    before=$(find "artifacts/$target" -type f | wc -l)
    # shellcheck disable=SC2046 # an empty seed list must vanish
    "${fuzz[@]}" run "${build[@]}" "$target" "corpus/$target" $(seeds_of "$target") -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"logs/$target.log" 2>&1 || true
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$target.log" | grep -o '[0-9]*$' | tail -1)
    after=$(find "artifacts/$target" -type f | wc -l)
    crashes=$((after - before))
    total_crashes=$((total_crashes + crashes))
    summary+=("$(printf '%-26s %12s %8s' "$target" "${runs:-?}" "$crashes")")
    if [ "$crashes" -gt 0 ]; then
        echo "fuzz.sh: $target crashed; see fuzz/logs/$target.log and fuzz/artifacts/$target/" >&2
    fi
done

printf '%-26s %12s %8s\n' target executions crashes
printf '%s\n' "${summary[@]}"
echo "(${seconds} s per target; fuzz/logs/ has the full output)"
[ "$total_crashes" -eq 0 ]
