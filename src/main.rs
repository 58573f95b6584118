//! The `kubetwin` binary: everything lives in [`kubetwin::cli`] (`serve`, `exec`,
//! `install-envtest-assets`, and the `kube-apiserver`/`etcd` personalities).

fn main() -> std::process::ExitCode {
    kubetwin::cli::main()
}
