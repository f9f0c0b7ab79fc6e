//! The typed shapes of the JSON columns: a model's field *is* its typed record.
//!
//! Reading never fails on a stored value of another shape: rows written by older code may
//! hold `null`, miss keys or carry keys no longer known. Unknown keys are ignored, missing
//! ones take their defaults, and a value that does not fit at all (a `null`, a wrong type)
//! reads as the type's default — what each use did before with
//! `from_value(..).unwrap_or_default()`. What is written is exactly what the API's wire
//! types serialised, so the stored bytes are unchanged.

pub mod agent;
pub mod campaign;
pub mod email;
pub mod status;

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `Serialize` and a tolerant `Deserialize` for a type whose derives carry
/// `#[serde(remote = "Self")]`: a value of another shape reads as `Default::default()`.
macro_rules! tolerant_json {
    ($($t:ty),* $(,)?) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(d)?;
                Ok(<$t>::deserialize(value).unwrap_or_default())
            }
        }
    )*};
}
pub(crate) use tolerant_json;

/// A JSON array of strings (tool refs, event names, scopes, E.164 numbers); anything else
/// stored reads as empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, FromJsonQueryResult)]
pub struct StringList(pub Vec<String>);

/// A JSON object of string values (prompt variables, HTTP headers); anything else stored
/// (including an object with a non-string value) reads as empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromJsonQueryResult)]
pub struct StringMap(pub BTreeMap<String, String>);

macro_rules! transparent_json {
    ($t:ident, $inner:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(d)?;
                Ok(Self(serde_json::from_value(value).unwrap_or_default()))
            }
        }

        impl Deref for $t {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }

        impl DerefMut for $t {
            fn deref_mut(&mut self) -> &mut $inner {
                &mut self.0
            }
        }

        impl From<$inner> for $t {
            fn from(v: $inner) -> Self {
                Self(v)
            }
        }

        impl From<$t> for $inner {
            fn from(v: $t) -> Self {
                v.0
            }
        }
    };
}

transparent_json!(StringList, Vec<String>);
transparent_json!(StringMap, BTreeMap<String, String>);

impl FromIterator<String> for StringList {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_and_maps_of_another_shape_read_as_empty() {
        let list: StringList = serde_json::from_value(json!(null)).unwrap_or_default();
        assert!(list.is_empty());
        let list: StringList = serde_json::from_value(json!(["a", 1])).unwrap_or_default();
        assert!(list.is_empty());
        let map: StringMap = serde_json::from_value(json!({ "a": "x", "b": 2 })).unwrap_or_default();
        assert!(map.is_empty());
        let map: StringMap = serde_json::from_value(json!({ "a": "x" })).unwrap_or_default();
        assert_eq!(map.get("a").map(String::as_str), Some("x"));
        assert_eq!(serde_json::to_value(&map).ok(), Some(json!({ "a": "x" })));
    }
}
