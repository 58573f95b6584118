//! The `kubetwin` binary: everything lives in [`kubetwin::cli`] (`serve`, `exec`,
//! `install-envtest-assets`, and the `kube-apiserver`/`etcd` personalities). It allocates with
//! mimalloc: an apply or a list decodes and encodes JSON into many small allocations, and
//! mimalloc serves them in about half the time glibc's allocator takes. It is built without
//! transparent huge pages (`no_thp`): with them an idle server held 29 MiB instead of 18.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    kubetwin::cli::main()
}
