//! Naming JSON values in error messages (`"hooks" is an array, not an
//! object`), for every reader of a hand-edited JSON file.

use serde_json::Value;

/// `null`, `a boolean`, `a number`, `a string`, `an array`, `an object`.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
