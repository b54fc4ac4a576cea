//! The exit codes of every `cargo xtask` command: one table, read by the command line and the
//! deploy engine, and printed in the README ("Exit codes").

/// Success; for `diff` and `generate --check`: nothing differs.
pub const OK: u8 = 0;
/// An error: a step failed, a file could not be written, an AWS or Kubernetes call failed.
pub const ERROR: u8 = 1;
/// Changes or drift found: `diff` has changes, `generate --check` drift; a deploy or destroy
/// refused because the committed output differs from `platform.toml`.
pub const CHANGES: u8 = 2;
/// The platform file cannot be read or is invalid (every error printed with its location).
pub const INVALID_PLATFORM: u8 = 3;
/// A tool a run needs (terraform, helm, kubectl) is missing or older than versions.toml pins.
pub const TOOL_MISSING: u8 = 4;
/// The command line is wrong: an unknown flag or command, a missing argument, an unknown
/// environment (sysexits' `EX_USAGE`).
pub const USAGE: u8 = 64;
/// The run was interrupted (Ctrl-C); its journal is kept for `--resume` (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Every code with its meaning, in order.
pub const TABLE: &[(u8, &str)] = &[
    (
        OK,
        "success; `diff` and `generate --check`: nothing differs",
    ),
    (ERROR, "an error (a step failed, a call or a write failed)"),
    (
        CHANGES,
        "changes or drift found; a deploy refused because the committed output drifts from platform.toml",
    ),
    (
        INVALID_PLATFORM,
        "the platform file cannot be read or is invalid",
    ),
    (
        TOOL_MISSING,
        "terraform, helm or kubectl missing or too old",
    ),
    (
        USAGE,
        "wrong command line: an unknown flag or environment, contradictory flags, no --yes off a terminal, a missing --confirm",
    ),
    (INTERRUPTED, "interrupted; continue with --resume"),
];
