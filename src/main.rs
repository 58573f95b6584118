//! The `kubetwin` command line: parses flags and hands over to the library.

fn main() {
    eprintln!("kubetwin: the API server is not built yet; only the store exists so far");
}
