# kubetwin tasks. Each recipe is a plain cargo command, so nothing here needs `just`.

# Start the sandbox server (writes ./kubetwin.kubeconfig)
run *ARGS:
    cargo run --release -- {{ARGS}}

# Every test: unit, property, end-to-end with kube-rs and kubectl (fetched on first use)
test:
    cargo test --workspace

# Benchmarks (criterion); figures go to target/criterion
bench:
    cargo bench --workspace

# Formatting and lints, as CI runs them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Review pending insta snapshots (snapshots/)
snap:
    cargo insta review --workspace
