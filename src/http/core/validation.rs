//! Strict request validation: JSON bodies into typed wire structs (unknown fields refused
//! with a "did you mean" suggestion), then range checks collected field by field.

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

pub use crate::domain::validation::{Validate, Validator, suggest};
use crate::domain::validation::{control_message, forbidden_control};
use crate::error::{ApiError, FieldError};

/// Parses a JSON body into `T` and runs its checks. An empty body is `{}`.
///
/// # Errors
/// `VALIDATION_ERROR` with field-level details.
pub fn parse_body<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let malformed = |e: serde_json::Error| {
        ApiError::field(
            "body",
            format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column()),
        )
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(malformed)?;
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    if !T::CONTROL_CHARACTERS_PER_ITEM
        && let Some(error) = control_character(bytes)
    {
        return Err(ApiError::validation(vec![error]));
    }
    // One pass from the bytes (a large body is never held twice, as a `Value` tree too);
    // a syntax error anywhere is reported as such, a data error with its path.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(parsed) => parsed,
        Err(e) => {
            let path = e.path().to_string();
            let e = e.into_inner();
            if e.is_syntax() || e.is_eof() {
                return Err(malformed(e));
            }
            // The tree of a valid document is no longer built first: a syntax error later
            // in the body still wins over a data error before it.
            if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                return Err(malformed(syntax));
            }
            let message = e.to_string();
            let position = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&position).unwrap_or(&message);
            let first = serde_error(&path, message);
            return Err(ApiError::validation(more_errors::<T>(bytes, first)));
        }
    };
    de.end().map_err(malformed)?;
    let mut v = Validator::default();
    parsed.validate(&mut v);
    v.finish()?;
    Ok(parsed)
}

/// A control character no field needs, with where it is (a key or a value). JSON forbids
/// raw C0 controls in strings, so they arrive escaped (`\u0000`), or as raw DEL or C1
/// bytes: only a body holding one of those is walked as a tree.
fn control_character(bytes: &[u8]) -> Option<FieldError> {
    let suspicious = bytes
        .windows(2)
        .any(|w| w == b"\\u" || (w[0] == 0xC2 && (0x80..=0x9F).contains(&w[1])))
        || bytes.contains(&0x7F);
    if !suspicious {
        return None;
    }
    let value = serde_json::from_slice::<serde_json::Value>(bytes).ok()?;
    control_in(&value, "")
}

fn control_in(value: &serde_json::Value, path: &str) -> Option<FieldError> {
    let here = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) => forbidden_control(s).map(|c| FieldError::new(path, control_message(c))),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| control_in(item, &here(&i.to_string()))),
        serde_json::Value::Object(members) => members.iter().find_map(|(key, item)| {
            let field = here(key);
            match forbidden_control(key) {
                Some(c) => Some(FieldError::new(field, format!("its key {}", control_message(c)))),
                None => control_in(item, &field),
            }
        }),
        _ => None,
    }
}

/// Every problem of a body whose first is `first` (serde stops at one): unknown fields are
/// taken out one by one and the rest parsed again, so a misspelt field and a wrong value
/// beside it are reported together; when what remains parses, its range checks are added.
fn more_errors<T: DeserializeOwned + Validate>(bytes: &[u8], first: FieldError) -> Vec<FieldError> {
    const MAX_ROUNDS: usize = 20;
    let mut errors = vec![first];
    let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return errors;
    };
    for _ in 0..MAX_ROUNDS {
        let Some(last) = errors.last() else { break };
        if !last.message.starts_with("unknown field") || !remove_at(&mut body, &last.field) {
            break;
        }
        match serde_path_to_error::deserialize::<_, T>(&body) {
            Ok(parsed) => {
                let mut v = Validator::default();
                parsed.validate(&mut v);
                errors.extend(v.into_errors());
                break;
            }
            Err(e) => {
                let path = e.path().to_string();
                errors.push(serde_error(&path, &e.into_inner().to_string()));
            }
        }
    }
    errors
}

/// Removes the member at a dotted path (`agent.name`); false when there is none.
fn remove_at(body: &mut serde_json::Value, path: &str) -> bool {
    let mut node = body;
    let mut parts = path.split('.').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return node.as_object_mut().is_some_and(|o| o.remove(part).is_some());
        }
        node = match node {
            serde_json::Value::Object(o) => match o.get_mut(part) {
                Some(next) => next,
                None => return false,
            },
            serde_json::Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    false
}

/// Turns serde's message into a field error, naming the field and suggesting a fix.
fn serde_error(path: &str, message: &str) -> FieldError {
    let prefix = if path == "." || path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        // serde_path_to_error already appends the unknown field to the path.
        let name = if path.ends_with(field) {
            path.to_string()
        } else {
            format!("{prefix}{field}")
        };
        let mut err = FieldError::new(name, "unknown field");
        if let Some(s) = suggest(field, known.iter().copied()) {
            err.message = format!("unknown field; did you mean '{s}'?");
            err.suggestion = Some(s);
        } else if !known.is_empty() {
            err.message = format!("unknown field; expected one of: {}", known.join(", "));
        }
        return err;
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return FieldError::new(format!("{prefix}{field}"), "is required");
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (given, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let mut err = FieldError::new(
            path.trim_start_matches('.'),
            format!("must be one of: {} (got '{given}')", known.join(", ")),
        );
        err.suggestion = suggest(given, known.iter().copied());
        return err;
    }
    let field = if path == "." || path.is_empty() {
        "body".to_string()
    } else {
        path.to_string()
    };
    FieldError::new(field, message.to_string())
}

/// `Some(None)` for an explicit `null`, `None` when absent.
pub fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        agent_id: Option<String>,
        count: Option<u32>,
    }

    impl Validate for Sample {
        fn validate(&self, v: &mut Validator) {
            v.length("name", &self.name, 1, 5);
            v.range("count", self.count, 1, 10);
        }
    }

    fn details(err: ApiError) -> Vec<serde_json::Value> {
        err.details.unwrap().as_array().unwrap().clone()
    }

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let err = parse_body::<Sample>(br#"{"name":"x","agentID":"y"}"#).unwrap_err();
        let d = details(err);
        assert_eq!(d[0]["field"], "agentID");
        assert_eq!(d[0]["suggestion"], "agentId");
    }

    #[test]
    fn an_unknown_field_and_a_bad_value_beside_it_are_both_reported() {
        let d = details(parse_body::<Sample>(br#"{"name":"toolongname","agentID":"y","count":99}"#).unwrap_err());
        let fields: Vec<&str> = d.iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["agentID", "name", "count"], "{d:?}");
        let d = details(parse_body::<Sample>(br#"{"name":"ok","nam":"x","count":"many"}"#).unwrap_err());
        let fields: Vec<&str> = d.iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, ["nam", "count"], "{d:?}");
    }

    #[test]
    fn missing_wrong_type_and_malformed_are_named() {
        assert_eq!(details(parse_body::<Sample>(b"{}").unwrap_err())[0]["field"], "name");
        assert_eq!(
            details(parse_body::<Sample>(br#"{"name":"x","count":"3"}"#).unwrap_err())[0]["field"],
            "count"
        );
        assert_eq!(
            details(parse_body::<Sample>(b"{\"name\":").unwrap_err())[0]["field"],
            "body"
        );
        assert_eq!(details(parse_body::<Sample>(b"[1]").unwrap_err())[0]["field"], "body");
    }

    #[test]
    fn one_pass_parsing_keeps_the_messages_of_a_tree() {
        let message = |body: &[u8]| details(parse_body::<Sample>(body).unwrap_err())[0]["message"].clone();
        // A data error names no position in the text; a syntax error later in the body
        // wins over it, as when the whole document was parsed first.
        assert_eq!(
            message(br#"{"name":"x","count":"3"}"#),
            "invalid type: string \"3\", expected u32"
        );
        assert!(
            message(br#"{"name":"x","count":"3",}"#)
                .as_str()
                .unwrap()
                .starts_with("malformed JSON")
        );
        assert!(
            message(br#"{"name":"x"} trailing"#)
                .as_str()
                .unwrap()
                .starts_with("malformed JSON")
        );
        assert_eq!(message(b" [1]"), "must be a JSON object");
        assert!(message(b"[1").as_str().unwrap().starts_with("malformed JSON"));
        assert_eq!(
            parse_body::<Sample>(b" \n").unwrap_err().details.unwrap()[0]["field"],
            "name"
        );
    }

    #[test]
    fn range_errors_are_all_reported_with_their_range() {
        let d = details(parse_body::<Sample>(br#"{"name":"toolongname","count":11}"#).unwrap_err());
        assert_eq!(d.len(), 2);
        assert!(d[1]["message"].as_str().unwrap().contains("between 1 and 10"));
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(
            suggest("systemprompt", ["systemPrompt", "name"]).as_deref(),
            Some("systemPrompt")
        );
        assert_eq!(suggest("zzz", ["systemPrompt", "name"]), None);
    }
}
