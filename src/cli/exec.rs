//! `kubetwin exec [server flags] -- COMMAND [ARGS...]`: the fixture for test suites in any
//! language. It starts a server (on a free port unless `--secure-port` says otherwise), writes
//! an admin kubeconfig to a temporary file, runs COMMAND with `KUBECONFIG` and `KUBETWIN_URL`
//! set and its stdin, stdout and stderr inherited, and exits with COMMAND's exit code
//! (128 + N when a signal N ended it, as shells report it). The server stops and the temporary
//! kubeconfig is removed however COMMAND ends. SIGTERM, and SIGINT when stdin is not a
//! terminal, are forwarded to COMMAND (on a terminal, Ctrl-C already reaches the whole
//! foreground process group, COMMAND included). kubetwin's own failures exit 125, a COMMAND
//! that cannot be run 126, one that is not found 127, as `env` does.

use super::ServerFlags;
use crate::server::Server;
use clap::Args;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// kubetwin itself failed (the server did not start, the kubeconfig could not be written).
pub const EXIT_KUBETWIN_FAILED: u8 = 125;
/// The command exists but could not be started.
pub const EXIT_CANNOT_RUN: u8 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// `kubetwin exec`'s arguments.
#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    #[command(flatten)]
    pub server: ServerFlags,
    /// The command to run and its arguments, best after `--`.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Runs `kubetwin exec` to completion; the exit code is the command's.
pub fn main(args: ExecArgs) -> ExitCode {
    super::init_logging("warn", args.server.verbose);
    ExitCode::from(super::runtime().block_on(run(&args)))
}

/// Starts the server, runs the command, stops the server; returns the exit code to exit with.
pub async fn run(args: &ExecArgs) -> u8 {
    // Before anything else, so that a signal during start-up does not kill kubetwin outright
    // (it is forwarded once the command runs, which then ends promptly).
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => return fail(format!("installing signal handlers: {error}")),
    };
    let config = match args.server.server_config(0) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(error) => return fail(error.to_string()),
    };
    if let Err(error) = args.server.load_manifests(&server) {
        stop(server).await;
        return fail(error);
    }
    let (kubeconfig, temporary) = match write_kubeconfig(&server, args.server.kubeconfig.as_ref()) {
        Ok(written) => written,
        Err(error) => {
            stop(server).await;
            return fail(error);
        }
    };
    tracing::info!(url = %server.url(), kubeconfig = %kubeconfig.display(), "kubetwin exec: server ready");
    let code = run_command(&args.command, &kubeconfig, &server.url(), &mut signals).await;
    stop(server).await;
    drop(temporary);
    code
}

fn fail(error: String) -> u8 {
    eprintln!("kubetwin exec: {error}");
    EXIT_KUBETWIN_FAILED
}

/// Writes the admin kubeconfig to `requested`, or to a temporary file removed when the returned
/// handle drops; returns its absolute path.
fn write_kubeconfig(
    server: &Server,
    requested: Option<&PathBuf>,
) -> Result<(PathBuf, Option<tempfile::NamedTempFile>), String> {
    let (path, temporary) = match requested {
        Some(path) => (path.clone(), None),
        None => {
            let file = tempfile::Builder::new()
                .prefix("kubetwin-")
                .suffix(".kubeconfig")
                .tempfile()
                .map_err(|e| format!("creating a temporary kubeconfig: {e}"))?;
            (file.path().to_path_buf(), Some(file))
        }
    };
    server.write_kubeconfig(&path).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok((std::fs::canonicalize(&path).unwrap_or(path), temporary))
}

/// Stops the server, waiting a little for open connections (a background process the command
/// left behind may still hold a watch).
async fn stop(server: Server) {
    let _ = tokio::time::timeout(Duration::from_secs(2), server.shutdown()).await;
}

async fn run_command(command: &[OsString], kubeconfig: &std::path::Path, url: &str, signals: &mut Signals) -> u8 {
    let (program, arguments) = command.split_first().expect("clap requires a command");
    let mut child = match tokio::process::Command::new(program)
        .args(arguments)
        .env("KUBECONFIG", kubeconfig)
        .env("KUBETWIN_URL", url)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            eprintln!("kubetwin exec: cannot run {}: {error}", program.to_string_lossy());
            return match error.kind() {
                std::io::ErrorKind::NotFound => EXIT_NOT_FOUND,
                _ => EXIT_CANNOT_RUN,
            };
        }
    };
    let pid = child.id();
    let status = loop {
        let signal = tokio::select! {
            status = child.wait() => break status,
            signal = signals.recv() => signal,
        };
        if !forward(pid, signal).await {
            let _ = child.start_kill();
        }
    };
    match status {
        Ok(status) => exit_code(status),
        Err(error) => {
            eprintln!("kubetwin exec: waiting for {}: {error}", program.to_string_lossy());
            EXIT_KUBETWIN_FAILED
        }
    }
}

/// The exit code a shell would report for `status`.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128u8.saturating_add(u8::try_from(signal).unwrap_or(0));
        }
    }
    1
}

/// A signal kubetwin received and passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    Interrupt,
    Terminate,
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    async fn recv(&mut self) -> Received {
        tokio::select! {
            _ = self.interrupt.recv() => Received::Interrupt,
            _ = self.terminate.recv() => Received::Terminate,
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn recv(&mut self) -> Received {
        let _ = tokio::signal::ctrl_c().await;
        Received::Interrupt
    }
}

/// Passes `signal` on to the command; false when it could not be delivered (the caller then
/// kills the command). The standard library cannot send a signal, so this asks `kill(1)`.
async fn forward(pid: Option<u32>, signal: Received) -> bool {
    use std::io::IsTerminal;
    if signal == Received::Interrupt && std::io::stdin().is_terminal() {
        tracing::debug!("SIGINT from the terminal already reached the command");
        return true;
    }
    let (Some(pid), true) = (pid, cfg!(unix)) else { return false };
    let name = match signal {
        Received::Interrupt => "INT",
        Received::Terminate => "TERM",
    };
    tracing::debug!(pid, signal = name, "forwarding a signal to the command");
    tokio::process::Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Wrapper {
        #[command(flatten)]
        exec: ExecArgs,
    }

    fn parse(args: &[&str]) -> ExecArgs {
        Wrapper::try_parse_from(std::iter::once("exec").chain(args.iter().copied())).unwrap().exec
    }

    #[test]
    fn the_command_is_everything_after_the_separator_or_the_first_word() {
        let args = parse(&["-v", "--secure-port", "0", "--", "pytest", "-x", "--kubeconfig", "k"]);
        assert_eq!(args.command, ["pytest", "-x", "--kubeconfig", "k"]);
        assert_eq!((args.server.verbose, args.server.secure_port, args.server.kubeconfig), (1, Some(0), None));
        let args = parse(&["sh", "-c", "exit 7"]);
        assert_eq!(args.command, ["sh", "-c", "exit 7"]);
        assert!(Wrapper::try_parse_from(["exec"]).is_err(), "a command is required");
    }

    #[cfg(unix)]
    #[test]
    fn exit_codes_follow_the_shell() {
        let status = |script: &str| std::process::Command::new("sh").args(["-c", script]).status().unwrap();
        assert_eq!(exit_code(status("exit 0")), 0);
        assert_eq!(exit_code(status("exit 7")), 7);
        assert_eq!(exit_code(status("kill -TERM $$")), 128 + 15);
    }
}
