//! `meshsim schema`: the JSON Schema of scenario files, for editors.

use super::{say, AppError};
use crate::scenario;

/// Prints the schema on standard output.
pub fn run() -> Result<(), AppError> {
    say(&scenario::json_schema());
    Ok(())
}
