//! Field checks collected one by one, so one answer lists every problem of a value: the
//! domain's own vocabulary for "this field is wrong, and why".

use crate::error::{ApiError, FieldError};

/// Range and format checks a wire type performs after deserializing.
pub trait Validate {
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
