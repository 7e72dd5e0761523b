//! The one error type of the application layer, and the exit status each kind maps to.

use crate::scenario::ScenarioErrors;

/// Exit status: the scenario, a file or the arguments are invalid (clap's usage errors use it
/// too).
pub const EXIT_INVALID: u8 = 2;
/// Exit status: the command could not finish (e.g. the report could not be written).
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the command ran, and `--check` found objectives missed (an `[slo]` target, or a
/// `--fail-if` rule): what a pipeline fails on.
pub const EXIT_OBJECTIVES_MISSED: u8 = 3;

/// Why a command did not succeed. `main` prints it once, each line as `error: LINE` on standard
/// error, and exits with [`AppError::exit_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// The input is invalid: every problem found, one per line, each naming the file, line and
    /// column (or the argument) it is about. Exit status 2.
    Invalid(Vec<String>),
    /// The command could not finish although its input was valid. Exit status 1.
    Failed(String),
    /// `--check`: the run or comparison missed objectives, one line each. Exit status 3.
    ObjectivesMissed(Vec<String>),
}

impl AppError {
    /// One invalid-input problem.
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid(vec![message.into()])
    }

    /// The process's exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Invalid(_) => EXIT_INVALID,
            AppError::Failed(_) => EXIT_FAILED,
            AppError::ObjectivesMissed(_) => EXIT_OBJECTIVES_MISSED,
        }
    }

    /// The lines to print, without the `error: ` prefix.
    pub fn lines(&self) -> Vec<String> {
        match self {
            AppError::Invalid(lines) => lines.clone(),
            AppError::Failed(line) => vec![line.clone()],
            AppError::ObjectivesMissed(lines) => lines
                .iter()
                .map(|line| format!("objective missed: {line}"))
                .collect(),
        }
    }
}

impl From<ScenarioErrors> for AppError {
    fn from(errors: ScenarioErrors) -> Self {
        AppError::Invalid(errors.0.iter().map(ToString::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_maps_to_its_exit_status() {
        assert_eq!(AppError::invalid("x").exit_code(), 2);
        assert_eq!(AppError::Failed("y".into()).exit_code(), 1);
        assert_eq!(AppError::invalid("x").lines(), vec!["x".to_string()]);
        let missed = AppError::ObjectivesMissed(vec!["p99 latency".into()]);
        assert_eq!(missed.exit_code(), 3);
        assert_eq!(
            missed.lines(),
            vec!["objective missed: p99 latency".to_string()]
        );
    }

    #[test]
    fn scenario_errors_keep_every_problem_with_its_position() {
        let errors = crate::scenario::load_str(
            "[scenario]\nname = 1\nbogus = 2\n",
            "t.toml",
            std::path::Path::new("."),
            &[],
        )
        .expect_err("invalid");
        let count = errors.0.len();
        let error = AppError::from(errors);
        assert_eq!(error.exit_code(), EXIT_INVALID);
        let lines = error.lines();
        assert_eq!(lines.len(), count);
        assert!(lines.iter().all(|l| l.starts_with("t.toml:")), "{lines:?}");
    }
}
