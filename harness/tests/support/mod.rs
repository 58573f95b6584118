//! What the snapshot corpora share: `cases!` turns `test_name => "case.yaml"` pairs into one
//! `#[tokio::test]` each, calling the including file's `run_case(file)`.

/// One test per case file, named after the rule it checks.
macro_rules! cases {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            run_case($file).await;
        }
    )*};
}
