# stratbox tasks. Every recipe is a plain cargo command underneath: `just` is a convenience.

# Run the default discovery (4620 strategies x 3 lots) on the bundled 2018 EURUSD year.
discover *ARGS:
    cargo run --release -- discover {{ARGS}}

# Everything CI checks: formatting, lints, all tests.
test:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace

# Criterion benches (engine, sandbox overhead, features, load, Parquet write).
bench *ARGS:
    cargo bench {{ARGS}}

# End-to-end timing of discover on the bundled year: native engine vs sandbox, with the ratio.
bench-discover:
    bash benches/discover.sh

# Time, peak RSS and instance memory on 1, 5 and 25 synthetic years (the bundled one relabelled).
bench-years ROUNDS="3":
    cargo build --release
    bash benches/years.sh target/release/stratbox {{ROUNDS}} 1 5 25

# Print the default grid.
grid:
    cargo run --release -- grid
