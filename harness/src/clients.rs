//! The real clients tests drive: kubectl 1.33 and helm, installed into the workspace's
//! `.tools/bin` by `scripts/fetch-clients.sh` on first use, and run as subprocesses.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokio::io::AsyncWriteExt;

/// What a client subprocess printed and how it exited, from [`TestServer::kubectl`],
/// [`kubectl`] or [`helm`].
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let output = twin.kubectl(&["get", "configmap", "missing"]).await;
/// assert!(!output.success);
/// assert!(output.stderr.contains("NotFound"), "{}", output.stderr);
/// # Ok(())
/// # }
/// ```
///
/// [`TestServer::kubectl`]: crate::TestServer::kubectl
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Whether the process exited with status 0.
    pub success: bool,
    /// Everything the process wrote to stdout (lossily decoded as UTF-8).
    pub stdout: String,
    /// Everything the process wrote to stderr (lossily decoded as UTF-8).
    pub stderr: String,
}

impl CommandOutput {
    /// Panics with both streams when the command failed, else returns stdout.
    ///
    /// # Panics
    ///
    /// When the command did not succeed; the message shows its stdout and stderr.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use kubetwin_harness::clients::CommandOutput;
    /// let stdout = "configmap/settings created\n".to_string();
    /// let created = CommandOutput { success: true, stdout, stderr: String::new() };
    /// assert_eq!(created.ok().trim(), "configmap/settings created");
    /// ```
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(self.success, "command failed\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        &self.stdout
    }

    /// Panics when the command succeeded, else returns stderr.
    ///
    /// # Panics
    ///
    /// When the command succeeded; the message shows its stdout.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use kubetwin_harness::clients::CommandOutput;
    /// let stderr = "Error from server (NotFound): configmaps \"missing\" not found\n".to_string();
    /// let missing = CommandOutput { success: false, stdout: String::new(), stderr };
    /// assert!(missing.err().contains("NotFound"));
    /// ```
    #[track_caller]
    pub fn err(&self) -> &str {
        assert!(!self.success, "command unexpectedly succeeded\nstdout:\n{}", self.stdout);
        &self.stderr
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness lives in the workspace").to_path_buf()
}

/// The directory holding kubectl and helm (the workspace's `.tools/bin`), fetched once per
/// machine: the first call runs `scripts/fetch-clients.sh` when kubectl, helm or the Python
/// client is missing, which needs the network.
///
/// # Panics
///
/// When the fetch script cannot be run or fails.
///
/// # Examples
///
/// ```rust,no_run
/// let kubectl = kubetwin_harness::clients::tools_bin().join("kubectl");
/// assert!(kubectl.is_file());
/// ```
pub fn tools_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let bin = root.join(".tools/bin");
        if !bin.join("kubectl").exists()
            || !bin.join("helm").exists()
            || !root.join(".tools/python/kubernetes").exists()
        {
            let status = std::process::Command::new("bash")
                .arg(root.join("scripts/fetch-clients.sh"))
                .status()
                .expect("running scripts/fetch-clients.sh");
            assert!(status.success(), "scripts/fetch-clients.sh failed");
        }
        bin
    })
}

/// The `PYTHONPATH` where the Kubernetes Python client was installed (fetched with the other
/// clients, see [`tools_bin`]), for tests that drive the server from Python.
///
/// ```rust,no_run
/// # fn main() -> Result<(), kubetwin_harness::Error> {
/// let status = std::process::Command::new("python3")
///     .env("PYTHONPATH", kubetwin_harness::clients::python_path())
///     .args(["-c", "import kubernetes"])
///     .status()?;
/// assert!(status.success());
/// # Ok(())
/// # }
/// ```
pub fn python_path() -> PathBuf {
    tools_bin();
    workspace_root().join(".tools/python")
}

async fn run(program: &Path, args: &[&str], envs: &[(&str, &std::ffi::OsStr)], stdin: Option<&str>) -> CommandOutput {
    let mut command = tokio::process::Command::new(program);
    command.args(args).kill_on_drop(true).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    command.stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() });
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).await.expect("writing stdin");
        drop(pipe);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} did not finish in 60 s", program.display()))
        .expect("waiting for the client");
    CommandOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs kubectl with `--kubeconfig`, no user config and no cache shared between tests, with
/// `stdin` piped in when given. [`TestServer::kubectl`] is the shorthand for a test's own
/// server.
///
/// # Panics
///
/// When kubectl cannot be started, or does not finish within 60 seconds.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let can_i = kubetwin_harness::clients::kubectl(twin.kubeconfig_path(), &["auth", "can-i", "create", "pods"], None);
/// assert_eq!(can_i.await.ok().trim(), "yes");
/// # Ok(())
/// # }
/// ```
///
/// [`TestServer::kubectl`]: crate::TestServer::kubectl
pub async fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> CommandOutput {
    let cache = tempfile::tempdir().expect("a cache directory");
    let mut full: Vec<&str> = vec!["--kubeconfig"];
    let kubeconfig_text = kubeconfig.to_string_lossy().into_owned();
    full.push(&kubeconfig_text);
    let cache_text = cache.path().to_string_lossy().into_owned();
    full.push("--cache-dir");
    full.push(&cache_text);
    full.extend_from_slice(args);
    run(&tools_bin().join("kubectl"), &full, &[("HOME", cache.path().as_os_str())], stdin).await
}

/// Runs helm against the kubeconfig, with a fresh, empty helm home (no repositories, no
/// plugins, no cache shared between tests).
///
/// # Panics
///
/// When helm cannot be started, or does not finish within 60 seconds.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kubetwin_harness::Error> {
/// let twin = kubetwin_harness::TestServer::start().await?;
/// let releases = kubetwin_harness::clients::helm(twin.kubeconfig_path(), &["list", "--all-namespaces", "-q"]).await;
/// assert_eq!(releases.ok().trim(), "", "a fresh server has no releases");
/// # Ok(())
/// # }
/// ```
pub async fn helm(kubeconfig: &Path, args: &[&str]) -> CommandOutput {
    let home = tempfile::tempdir().expect("a helm home");
    let envs = [
        ("KUBECONFIG", kubeconfig.as_os_str()),
        ("HOME", home.path().as_os_str()),
        ("HELM_CACHE_HOME", home.path().as_os_str()),
        ("HELM_CONFIG_HOME", home.path().as_os_str()),
        ("HELM_DATA_HOME", home.path().as_os_str()),
    ];
    run(&tools_bin().join("helm"), args, &envs, None).await
}
