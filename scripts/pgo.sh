#!/usr/bin/env bash
# Profile-guided builds (docs/runtime.md, "A profile-guided build"): an instrumented build runs a
# training workload, and the real build is optimised with what it recorded. The training cohort
# is generated from seed 11, so the figures measured afterwards (seed 7, the reference cohort)
# are on data the profile has not seen. Everything goes under target/pgo/; the usual build is
# not touched.
#
#   scripts/pgo.sh build   # the journey binary, at target/pgo/use-build/release/journey
#                          #   trained on: check, test and run of examples/ over 20,000 contacts
#   scripts/pgo.sh bench   # cargo bench --bench vm, profile-guided
#                          #   trained on: the same bench, one second per function (criterion's
#                          #   --profile-time), over a seed-11 cohort
#
# Extra arguments after `bench` go to the bench (a criterion filter, say).
# Needs llvm-profdata of the toolchain's LLVM: `rustup component add llvm-tools`.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-}
if [[ $what != build && $what != bench ]]; then
  echo "usage: scripts/pgo.sh build|bench [bench arguments]" >&2
  echo "  build  profile-guided journey binary at target/pgo/use-build/release/journey" >&2
  echo "  bench  cargo bench --bench vm, profile-guided" >&2
  exit 2
fi
shift

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [[ ! -x $profdata ]]; then
  echo "error: llvm-profdata of this toolchain not found at $profdata" >&2
  echo "  install it with: rustup component add llvm-tools" >&2
  exit 1
fi

work="$PWD/target/pgo"
raw="$work/raw-$what"
profile="$work/$what.profdata"
train="$work/train-$what"
gen=(env CARGO_TARGET_DIR="$work/gen-$what" RUSTFLAGS="-Cprofile-generate=$raw")
mkdir -p "$work"

# Merges the training's raw profiles. The merged profile's name carries its checksum: cargo
# rebuilds when its flags change, not when a file they name does, so a new profile means new
# flags. Then `use` builds with it (code the training did not reach, and the bench harness,
# have no profile: said here once rather than for each function).
merge() {
  "$profdata" merge -o "$profile" "$raw"
  local named
  named="$work/$what-$(cksum < "$profile" | cut -d' ' -f1).profdata"
  rm -f "$work/$what"-*.profdata
  mv "$profile" "$named"
  use=(env CARGO_TARGET_DIR="$work/use-$what" RUSTFLAGS="-Cprofile-use=$named -Cllvm-args=-pgo-warn-missing-function=false")
}

# Build scripts run instrumented too: only what runs after `fresh` counts.
fresh() {
  rm -rf "$raw" "$train"
  mkdir -p "$raw" "$train"
}

case $what in
  build)
    echo "pgo: instrumented build (target/pgo/gen-$what)" >&2
    "${gen[@]}" cargo build --release --locked -p journey-cli
    fresh
    echo "pgo: training (check, test, run of examples/ over 20,000 contacts, seed 11)" >&2
    bin="$work/gen-build/release/journey"
    if ! { "$bin" check examples &&
      "$bin" test examples &&
      "$bin" gen --output "$train/cohort.jsonl" --contacts 20000 --seed 11 --days 60 &&
      "$bin" run examples --input "$train/cohort.jsonl" --until 2026-03-02T00:00:00Z --out "$train/out"; } > "$train/train.log" 2>&1; then
      cat "$train/train.log" >&2
      echo "error: the training run failed (above)" >&2
      exit 1
    fi
    merge
    echo "pgo: optimised build (target/pgo/use-$what)" >&2
    "${use[@]}" cargo build --release --locked -p journey-cli
    echo "pgo: built $work/use-build/release/journey" >&2
    ;;
  bench)
    # The bench's build (its `bench` profile, its dependencies' features) differs from the
    # binary's, and so do its functions' names: it is trained on its own.
    echo "pgo: instrumented bench (target/pgo/gen-$what)" >&2
    "${gen[@]}" cargo bench --locked --bench vm --no-run
    fresh
    echo "pgo: training (the VM bench for one second per function, seed 11)" >&2
    if ! BENCH_SEED=11 "${gen[@]}" cargo bench --locked --bench vm -- --profile-time 1 > "$train/bench.log" 2>&1; then
      cat "$train/bench.log" >&2
      echo "error: the training run failed (above)" >&2
      exit 1
    fi
    merge
    echo "pgo: the VM bench, optimised (target/pgo/use-$what)" >&2
    "${use[@]}" cargo bench --locked --bench vm -- "$@"
    ;;
esac
