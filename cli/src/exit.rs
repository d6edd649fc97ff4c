//! Exit statuses, the same for every subcommand.

use std::process::ExitCode;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Allowed, admitted, verified.
    Ok = 0,
    /// A bad command line, or an input file that is missing or invalid (including a
    /// policy that does not load).
    UsageOrFile = 2,
    /// Refused: a DENY verdict, a quarantined result, a broken journal.
    Refused = 3,
    /// Held: the call needs a confirm token.
    Held = 4,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s as u8)
    }
}

/// The exit-status table shown under every `--help`.
pub const HELP: &str = "Exit status:
  0  allowed (ALLOW or TRANSFORM), admitted or paged out, journal verified
  2  usage error, or an input file missing or invalid (a policy that does not load)
  3  refused: DENY, a quarantined result, a broken journal
  4  held: the call needs confirmation (HOLD)";
