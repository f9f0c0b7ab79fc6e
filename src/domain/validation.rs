//! Field checks collected one by one, so one answer lists every problem of a value: the
//! domain's own vocabulary for "this field is wrong, and why".

use crate::error::{ApiError, FieldError};

/// Range and format checks a wire type performs after deserializing.
pub trait Validate {
    /// A batch whose items are accepted or rejected one by one checks control characters
    /// itself, per item; every other body is refused whole when one holds one.
    const CONTROL_CHARACTERS_PER_ITEM: bool = false;

    fn validate(&self, _v: &mut Validator) {}
}

/// Collects every field error of a request, so one answer lists them all.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// Length in characters within `min..=max`.
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        self.check(
            (min..=max).contains(&n),
            field,
            format!("must be between {min} and {max} characters (got {n})"),
        );
    }

    pub fn opt_length(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(value) = value {
            self.length(field, value, min, max);
        }
    }

    /// A number within `min..=max`.
    pub fn range<T: PartialOrd + std::fmt::Display + Copy>(&mut self, field: &str, value: Option<T>, min: T, max: T) {
        if let Some(value) = value {
            self.check(
                value >= min && value <= max,
                field,
                format!("must be between {min} and {max} (got {value})"),
            );
        }
    }

    /// One of `allowed`.
    pub fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(value) = value
            && !allowed.contains(&value)
        {
            let mut err = FieldError::new(field, format!("must be one of: {} (got '{value}')", allowed.join(", ")));
            err.suggestion = suggest(value, allowed.iter().copied());
            self.errors.push(err);
        }
    }

    pub fn push(&mut self, err: FieldError) {
        self.errors.push(err);
    }

    /// The problems collected.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    /// # Errors
    /// `VALIDATION_ERROR` listing every collected problem.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// The closest known name, when it is plausibly a typo.
pub fn suggest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = given.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| {
            let score = if k.to_ascii_lowercase() == lower {
                1.0
            } else {
                strsim::jaro_winkler(&lower, &k.to_ascii_lowercase())
            };
            (score, k)
        })
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

/// The first control character no field needs: every C0 control but tab, line feed and
/// carriage return, DEL and the C1 controls. PostgreSQL refuses NUL in text outright;
/// the rest only hide text from the people who read it.
pub fn forbidden_control(s: &str) -> Option<char> {
    s.chars().find(|&c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// The first control character no field needs in any string (key or value) of `value`.
pub fn forbidden_control_in(value: &serde_json::Value) -> Option<char> {
    match value {
        serde_json::Value::String(s) => forbidden_control(s),
        serde_json::Value::Array(items) => items.iter().find_map(forbidden_control_in),
        serde_json::Value::Object(members) => members
            .iter()
            .find_map(|(k, v)| forbidden_control(k).or_else(|| forbidden_control_in(v))),
        _ => None,
    }
}

/// The message for a value holding `c`.
pub fn control_message(c: char) -> String {
    format!(
        "contains the control character U+{:04X}; only tab, line feed and carriage return are allowed",
        u32::from(c)
    )
}

#[cfg(test)]
mod tests {
    use super::forbidden_control;

    #[test]
    fn only_tab_and_line_breaks_pass() {
        assert_eq!(forbidden_control("Line one.\n\tLine two.\r\n é 日本"), None);
        assert_eq!(forbidden_control("a\0b"), Some('\0'));
        assert_eq!(forbidden_control("\u{1b}[31m"), Some('\u{1b}'));
        assert_eq!(forbidden_control("x\u{7f}"), Some('\u{7f}'));
        assert_eq!(forbidden_control("x\u{85}"), Some('\u{85}'));
    }
}
