//! The expressions of a workflow: `{{path}}` templates filled from an execution's context,
//! and edge conditions evaluated against it.

use serde_json::Value;

use super::graph::{Condition, Equation, Op};

/// The value at `path` in the execution's context: `input.x`, `vars.x`, `steps.<node>.x`,
/// `trigger.x`, `execution.id`; a bare name is a variable (then an input field).
pub fn lookup<'a>(ctx: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches("{{").trim_end_matches("}}").trim();
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut cur = match first {
        "input" | "vars" | "steps" | "trigger" | "execution" => ctx.get(first)?,
        name => ctx
            .get("vars")
            .and_then(|v| v.get(name))
            .or_else(|| ctx.get("input")?.get(name))?,
    };
    for p in parts {
        cur = match cur {
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            other => other.get(p)?,
        };
    }
    Some(cur)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Fills `{{path}}` placeholders of a text from the context (unknown ones become empty).
pub fn render(template: &str, ctx: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let path = &rest[start + 2..start + end];
        out.push_str(&lookup(ctx, path).map(as_text).unwrap_or_default());
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// [`render`] through a JSON value; a string that is one placeholder keeps the value's type.
pub fn render_value(v: &Value, ctx: &Value) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1 {
                lookup(ctx, t).cloned().unwrap_or(Value::Null)
            } else {
                Value::String(render(s, ctx))
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| render_value(x, ctx)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), render_value(x, ctx))).collect()),
        other => other.clone(),
    }
}

fn compare(left: Option<&Value>, op: Op, right: &Value, ctx: &Value) -> bool {
    let right = render_value(right, ctx);
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    match op {
        Op::Exists => left.is_some_and(|v| !v.is_null()),
        Op::NotExists => left.is_none_or(Value::is_null),
        Op::Contains | Op::NotContains => {
            let found = match left {
                Some(Value::Array(a)) => a.iter().any(|x| as_text(x) == as_text(&right)),
                Some(v) => as_text(v).to_lowercase().contains(&as_text(&right).to_lowercase()),
                None => false,
            };
            found == (op == Op::Contains)
        }
        _ => {
            let Some(l) = left else {
                return op == Op::Ne;
            };
            let ord = match (num(l), num(&right)) {
                (Some(a), Some(b)) if !matches!(l, Value::Bool(_)) || matches!(right, Value::Bool(_)) => {
                    a.partial_cmp(&b)
                }
                _ => Some(as_text(l).cmp(&as_text(&right))),
            };
            match (op, ord) {
                (Op::Eq, o) => o == Some(std::cmp::Ordering::Equal),
                (Op::Ne, o) => o != Some(std::cmp::Ordering::Equal),
                (Op::Gt, Some(o)) => o.is_gt(),
                (Op::Ge, Some(o)) => o.is_ge(),
                (Op::Lt, Some(o)) => o.is_lt(),
                (Op::Le, Some(o)) => o.is_le(),
                _ => false,
            }
        }
    }
}

impl Condition {
    /// Whether the condition holds in this context ([`Condition::Else`] never does: it is
    /// the fallback).
    pub fn holds(&self, ctx: &Value) -> bool {
        let eval = |e: &Equation| compare(lookup(ctx, &e.left), e.op, &e.right, ctx);
        match self {
            Self::Else => false,
            Self::All(eqs) => eqs.iter().all(eval),
            Self::Any(eqs) => eqs.iter().any(eval),
            // The branch's answers, put in the context by the step that asked them.
            Self::Prompt(q) => ctx.get("judged").and_then(|j| j.get(q)).and_then(Value::as_bool) == Some(true),
        }
    }
}
