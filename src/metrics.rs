//! A small process-wide Prometheus registry: counters, gauges and latency histograms keyed
//! by name and labels, rendered in the text exposition format by `GET /metrics`.
//! Other subsystems feed it through [`counter`], [`gauge_set`], [`gauge_add`], [`observe`].

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{LazyLock, Mutex},
};

use thruai_actors::call::stats::{BARGE_IN, DELAY_BOUNDS_US, MEDIA, MediaStats};

/// Every metric this server exposes, with its type and help, so that a scrape shows
/// them all (at zero) before anything fed them.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "thruai_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route pattern and status",
    ),
    (
        "thruai_http_request_duration_seconds",
        "histogram",
        "HTTP request latency, by method and route pattern",
    ),
    ("thruai_http_requests_in_flight", "gauge", "HTTP requests being served"),
    (
        "thruai_rate_limit_decisions_total",
        "counter",
        "Rate-limit decisions, by policy and decision (allowed, refused)",
    ),
    (
        "thruai_idempotency_outcomes_total",
        "counter",
        "Idempotency-Key outcomes (proceeded, replayed, refused, stored)",
    ),
    (
        "thruai_mcp_tool_calls_total",
        "counter",
        "MCP tool calls, by tool and outcome (ok, error)",
    ),
    ("thruai_live_calls", "gauge", "Calls in progress"),
    (
        "thruai_call_context_chars",
        "gauge",
        "Characters of conversation held as LLM context by live calls (each bounded by calls.llm_context_max_chars and _max_turns)",
    ),
    ("thruai_actors", "gauge", "Live actors of this node, by kind"),
    (
        "thruai_webhook_queue_depth",
        "gauge",
        "Webhook deliveries waiting to be sent",
    ),
    (
        "thruai_webhook_deliveries_total",
        "counter",
        "Webhook delivery attempts, by outcome (sent, retrying, failed)",
    ),
    (
        "thruai_campaign_dials_total",
        "counter",
        "Campaign dials, by result (placed, refused by the carrier, reconciled after a crash, redialled)",
    ),
    (
        "thruai_campaign_calls_settled_total",
        "counter",
        "Campaign calls settled by the retry policy, by outcome",
    ),
    (
        "thruai_sms_messages_total",
        "counter",
        "SMS messages, by direction (outbound, inbound) and result",
    ),
    (
        "thruai_a2p_status_changes_total",
        "counter",
        "A2P registration status changes, by kind (brand, campaign) and new status",
    ),
    (
        "thruai_media_frame_delay_seconds",
        "histogram",
        "Media Streams frames handled by call actors: arrival on the socket to the end of handling",
    ),
    (
        "thruai_barge_in_clear_seconds",
        "histogram",
        "Barge-in: arrival of the caller's first speech frame over the agent to the clear sent",
    ),
    (
        "thruai_call_checkpoints_total",
        "counter",
        "Call snapshots written (transitions and turns), group-committed",
    ),
    (
        "thruai_call_checkpoint_batch_seconds",
        "histogram",
        "One group commit of call snapshots: its transaction, start to commit",
    ),
];

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

type Key = (&'static str, String);

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<Key, f64>,
    gauges: BTreeMap<Key, f64>,
    histograms: BTreeMap<Key, Histogram>,
}

static REGISTRY: LazyLock<Mutex<Inner>> = LazyLock::new(|| Mutex::new(Inner::default()));

fn with<R>(f: impl FnOnce(&mut Inner) -> R) -> R {
    let mut guard = REGISTRY.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `{a="1",b="2"}` (empty for no labels).
fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("{{{}}}", inner.join(","))
}

/// Adds `by` to a counter.
pub fn counter(name: &'static str, labels: &[(&str, &str)], by: f64) {
    let key = (name, render_labels(labels));
    with(|r| *r.counters.entry(key).or_default() += by);
}

/// Sets a gauge.
pub fn gauge_set(name: &'static str, labels: &[(&str, &str)], value: f64) {
    let key = (name, render_labels(labels));
    with(|r| {
        r.gauges.insert(key, value);
    });
}

/// Adds `delta` (possibly negative) to a gauge.
pub fn gauge_add(name: &'static str, labels: &[(&str, &str)], delta: f64) {
    let key = (name, render_labels(labels));
    with(|r| *r.gauges.entry(key).or_default() += delta);
}

/// Records one observation (seconds) in a histogram.
pub fn observe(name: &'static str, labels: &[(&str, &str)], seconds: f64) {
    let key = (name, render_labels(labels));
    with(|r| {
        let h = r.histograms.entry(key).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    });
}

/// Adds `le` to a rendered label set.
fn with_le(labels: &str, le: &str) -> String {
    match labels.strip_suffix('}') {
        Some(open) => format!("{open},le=\"{le}\"}}"),
        None => format!("{{le=\"{le}\"}}"),
    }
}

/// The text exposition format (version 0.0.4).
pub fn render() -> String {
    with(|r| {
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            match *kind {
                "counter" | "gauge" => {
                    let map = if *kind == "counter" { &r.counters } else { &r.gauges };
                    let mut any = false;
                    for ((n, labels), v) in map.range((*name, String::new())..) {
                        if n != name {
                            break;
                        }
                        any = true;
                        let _ = writeln!(out, "{name}{labels} {v}");
                    }
                    if !any && !name.ends_with("_total") && *name != "thruai_actors" {
                        let _ = writeln!(out, "{name} 0");
                    }
                }
                _ if *name == "thruai_media_frame_delay_seconds" => render_media(&mut out, name, &MEDIA),
                _ if *name == "thruai_barge_in_clear_seconds" => render_media(&mut out, name, &BARGE_IN),
                _ => {
                    for ((n, labels), h) in r.histograms.range((*name, String::new())..) {
                        if n != name {
                            break;
                        }
                        for (bound, count) in BUCKETS.iter().zip(&h.counts) {
                            let _ = writeln!(out, "{name}_bucket{} {count}", with_le(labels, &bound.to_string()));
                        }
                        let _ = writeln!(out, "{name}_bucket{} {}", with_le(labels, "+Inf"), h.count);
                        let _ = writeln!(out, "{name}_sum{labels} {}", h.sum);
                        let _ = writeln!(out, "{name}_count{labels} {}", h.count);
                    }
                }
            }
        }
        out
    })
}

/// The call actors' lock-free statistics (`thruai_actors::call::stats`).
fn render_media(out: &mut String, name: &str, stats: &MediaStats) {
    let snap = stats.snapshot();
    let mut cumulative = 0;
    for (bound, n) in DELAY_BOUNDS_US.iter().zip(&snap.buckets) {
        cumulative += n;
        let le = *bound as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", snap.frames);
    let _ = writeln!(out, "{name}_sum {}", snap.sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {}", snap.frames);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        counter("thruai_webhook_deliveries_total", &[("outcome", "succeeded")], 2.0);
        gauge_set("thruai_actors", &[("kind", "call\"x")], 3.0);
        observe("thruai_http_request_duration_seconds", &[("route", "/t")], 0.02);
        let text = render();
        assert!(text.contains("thruai_webhook_deliveries_total{outcome=\"succeeded\"} 2"));
        assert!(text.contains("thruai_actors{kind=\"call\\\"x\"} 3"));
        assert!(text.contains("thruai_http_request_duration_seconds_bucket{route=\"/t\",le=\"0.025\"} 1"));
        assert!(text.contains("thruai_http_request_duration_seconds_bucket{route=\"/t\",le=\"0.01\"} 0"));
        assert!(text.contains("thruai_live_calls 0"));
    }
}
