//! What the agent is saying: each utterance is cut into segments at word boundaries, each
//! followed by a mark, so the echoed marks tell how much the caller actually heard; and how
//! much of the conversation the LLM is given. Pure.

use super::chat::{ChatRole, ChatTurn};

/// Segments end at the first word boundary after this many bytes.
const SEGMENT_BYTES: usize = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub id: u64,
    pub text: String,
    /// Its audio, kept while it plays (to resume after a pause).
    pub audio: Vec<u8>,
    /// Byte offset in `text` where each segment ends.
    pub segment_ends: Vec<usize>,
    /// Segments whose mark came back (played).
    pub heard_segments: usize,
    pub greeting: bool,
    pub end_call: bool,
    /// Its transcript line (`seq`) and the index of its conversation turn.
    pub transcript_seq: u64,
    pub conversation_index: usize,
}

/// Byte offsets where segments end: after a word, once a segment is long enough.
pub fn segment_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' && i - start >= SEGMENT_BYTES {
            ends.push(i + 1);
            start = i + 1;
        }
    }
    if start < text.len() || ends.is_empty() {
        ends.push(text.len());
    }
    ends
}

/// Splits `audio` proportionally to the segments of `text` (exact for the tone codec).
pub fn split_audio<'a>(text: &str, ends: &[usize], audio: &'a [u8]) -> Vec<&'a [u8]> {
    let total = text.len().max(1);
    let mut out = Vec::with_capacity(ends.len());
    let mut from = 0;
    for &end in ends {
        let to = (audio.len() * end / total).min(audio.len());
        out.push(&audio[from..to]);
        from = to;
    }
    out
}

pub fn mark_name(utterance: u64, segment: usize) -> String {
    format!("u{utterance}s{segment}")
}

/// `u12s3` → (12, 3).
pub fn parse_mark(name: &str) -> Option<(u64, usize)> {
    let rest = name.strip_prefix('u')?;
    let (u, s) = rest.split_once('s')?;
    Some((u.parse().ok()?, s.parse().ok()?))
}

impl Utterance {
    /// The text the caller heard so far.
    pub fn heard(&self) -> &str {
        match self.heard_segments {
            0 => "",
            n => self.text[..self.segment_ends[n.min(self.segment_ends.len()) - 1]].trim_end(),
        }
    }

    pub fn finished(&self) -> bool {
        self.heard_segments >= self.segment_ends.len()
    }

    /// Milliseconds of its audio the caller heard so far (8 kHz μ-law: 8 bytes a ms).
    pub fn heard_ms(&self) -> u64 {
        let end = match self.heard_segments.min(self.segment_ends.len()) {
            0 => return 0,
            n => self.segment_ends[n - 1],
        };
        (self.audio.len() * end / self.text.len().max(1)).min(self.audio.len()) as u64 / 8
    }
}

/// Streamed agent audio (the s2s pipeline): each chunk sent is followed by a mark, and the
/// marks echoed back tell how many milliseconds the caller actually heard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioMarks {
    /// Audio sent up to each mark, in ms.
    pub ends_ms: Vec<u64>,
    /// Marks echoed (chunks played).
    pub heard: usize,
    sent_bytes: usize,
}

impl AudioMarks {
    /// Records a chunk of `bytes` of 8 kHz μ-law; returns its segment number for the mark.
    pub fn push(&mut self, bytes: usize) -> usize {
        self.sent_bytes += bytes;
        self.ends_ms.push(self.sent_bytes as u64 / 8);
        self.ends_ms.len() - 1
    }

    pub fn echoed(&mut self, segment: usize) {
        self.heard = self.heard.max((segment + 1).min(self.ends_ms.len()));
    }

    /// Audio the caller heard: up to the last echoed mark.
    pub fn heard_ms(&self) -> u64 {
        match self.heard {
            0 => 0,
            n => self.ends_ms[n - 1],
        }
    }

    pub fn sent_ms(&self) -> u64 {
        self.ends_ms.last().copied().unwrap_or(0)
    }

    pub fn all_heard(&self) -> bool {
        self.heard >= self.ends_ms.len()
    }
}

/// The most context a call keeps for its LLM (0: no limit, for each bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContextBudget {
    pub max_chars: usize,
    /// Bounds the conversation's memory however short its turns are (each turn costs ~100
    /// bytes beyond its text).
    pub max_turns: usize,
}

impl ContextBudget {
    fn exceeded(&self, chars: usize, turns: usize) -> bool {
        (self.max_chars > 0 && chars > self.max_chars) || (self.max_turns > 0 && turns > self.max_turns)
    }
}

/// How many of the oldest `turns` to drop to fit the context in `budget`: never the last
/// user turn or anything after it, nothing from `keep_from` on (a turn still playing), and
/// never a tool result without the call it answers.
pub fn context_cut(turns: &[ChatTurn], budget: ContextBudget, keep_from: Option<usize>) -> usize {
    let mut total: usize = turns.iter().map(ChatTurn::chars).sum();
    if !budget.exceeded(total, turns.len()) {
        return 0;
    }
    let last_user = turns.iter().rposition(|t| t.role == ChatRole::User).unwrap_or(0);
    let limit = keep_from.map_or(last_user, |k| k.min(last_user));
    let mut cut = 0;
    while cut < limit && (budget.exceeded(total, turns.len() - cut) || turns[cut].role == ChatRole::Tool) {
        total -= turns[cut].chars();
        cut += 1;
    }
    cut
}

/// The words of `text` heard in `heard_ms` of its `total_ms` of audio: the proportional
/// prefix, cut back to a word boundary.
pub fn heard_prefix(text: &str, heard_ms: u64, total_ms: u64) -> &str {
    if total_ms == 0 || heard_ms >= total_ms {
        return if heard_ms == 0 && total_ms == 0 { "" } else { text };
    }
    let cut = usize::try_from(text.len() as u64 * heard_ms / total_ms).unwrap_or(0);
    let mut end = cut.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() && !text[end..].starts_with(' ') {
        end = text[..end].rfind(' ').unwrap_or(0);
    }
    text[..end].trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::chat::LlmToolCall;

    #[test]
    fn the_audio_heard_follows_the_segments_echoed() {
        let text = "Hello there, how can I help you today?".to_string();
        let ends = segment_ends(&text);
        let mut u = Utterance {
            id: 1,
            audio: vec![0xff; 8 * 2_000],
            segment_ends: ends.clone(),
            text,
            heard_segments: 0,
            greeting: false,
            end_call: false,
            transcript_seq: 1,
            conversation_index: 0,
        };
        assert_eq!(u.heard_ms(), 0);
        u.heard_segments = 1;
        let first = u.heard_ms();
        assert!(first > 0 && first < 2_000, "{first}");
        u.heard_segments = ends.len();
        assert_eq!(u.heard_ms(), 2_000);
        u.heard_segments = ends.len() + 3;
        assert_eq!(u.heard_ms(), 2_000, "never more than the audio");
    }

    #[test]
    fn segments_end_after_words_and_cover_the_text() {
        let text = "Thanks for calling the clinic, how can I help?";
        let ends = segment_ends(text);
        assert_eq!(*ends.last().unwrap(), text.len());
        for &e in &ends[..ends.len() - 1] {
            assert_eq!(&text[e - 1..e], " ");
        }
        assert_eq!(segment_ends("Hi"), vec![2]);
    }

    #[test]
    fn audio_splits_in_proportion_and_marks_parse() {
        let text = "aaaaaaaaaaaa bbbbbbbbbbbb cc";
        let ends = segment_ends(text);
        let audio = vec![0u8; text.len() * 10];
        let parts = split_audio(text, &ends, &audio);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), audio.len());
        assert_eq!(parts[0].len(), ends[0] * 10);
        assert_eq!(parse_mark(&mark_name(7, 2)), Some((7, 2)));
        assert_eq!(parse_mark("other"), None);
    }

    #[test]
    fn heard_is_the_played_prefix() {
        let text = "one two three four five six seven".to_string();
        let mut u = Utterance {
            id: 1,
            segment_ends: segment_ends(&text),
            text,
            audio: Vec::new(),
            heard_segments: 0,
            greeting: false,
            end_call: false,
            transcript_seq: 1,
            conversation_index: 0,
        };
        assert_eq!(u.heard(), "");
        u.heard_segments = 1;
        assert_eq!(u.heard(), "one two three");
        u.heard_segments = u.segment_ends.len();
        assert!(u.finished());
        assert_eq!(u.heard(), u.text);
    }

    #[test]
    fn the_context_is_cut_oldest_first_keeping_the_last_question_and_tool_pairs() {
        let say = |role, n: usize| ChatTurn::new(role, "x".repeat(n));
        let turns = vec![
            say(ChatRole::Assistant, 100),
            say(ChatRole::User, 100),
            ChatTurn::tool_calls(vec![LlmToolCall {
                id: "c1".into(),
                name: "look".into(),
                arguments: serde_json::json!({}),
            }]),
            ChatTurn::tool_result("c1", "x".repeat(100)),
            say(ChatRole::Assistant, 100),
            say(ChatRole::User, 100),
        ];
        let chars = |max_chars| ContextBudget {
            max_chars,
            max_turns: 0,
        };
        assert_eq!(context_cut(&turns, ContextBudget::default(), None), 0, "no limit");
        assert_eq!(context_cut(&turns, chars(10_000), None), 0, "within the budget");
        assert_eq!(context_cut(&turns, chars(450), None), 1);
        // Cutting the tool call drops its result too.
        assert_eq!(context_cut(&turns, chars(300), None), 4);
        // Never the last user turn, whatever the budget.
        assert_eq!(context_cut(&turns, chars(1), None), 5);
        // Nor a turn still playing.
        assert_eq!(context_cut(&turns, chars(1), Some(1)), 1);

        // A bound on turns, alone or beside the characters' (whichever cuts more).
        let most_turns = |max_turns| ContextBudget {
            max_chars: 0,
            max_turns,
        };
        assert_eq!(context_cut(&turns, most_turns(6), None), 0);
        assert_eq!(context_cut(&turns, most_turns(5), None), 1);
        assert_eq!(
            context_cut(&turns, most_turns(4), None),
            2,
            "the tool call kept with its result"
        );
        assert_eq!(
            context_cut(&turns, most_turns(3), None),
            4,
            "the tool pair goes together"
        );
        assert_eq!(context_cut(&turns, most_turns(1), None), 5, "the last question stays");
        let both = ContextBudget {
            max_chars: 450,
            max_turns: 3,
        };
        assert_eq!(context_cut(&turns, both, None), 4);
        let both = ContextBudget {
            max_chars: 200,
            max_turns: 5,
        };
        assert_eq!(context_cut(&turns, both, None), 4);
    }

    #[test]
    fn streamed_audio_marks_count_what_was_heard() {
        let mut m = AudioMarks::default();
        assert_eq!(m.push(1600), 0);
        assert_eq!(m.push(800), 1);
        assert_eq!(m.sent_ms(), 300);
        assert_eq!(m.heard_ms(), 0);
        m.echoed(0);
        assert_eq!(m.heard_ms(), 200);
        assert!(!m.all_heard());
        m.echoed(7);
        assert!(m.all_heard());
        assert_eq!(m.heard_ms(), 300);
        assert_eq!(heard_prefix("one two three four", 500, 1000), "one two");
        assert_eq!(heard_prefix("one two", 0, 1000), "");
        assert_eq!(heard_prefix("one two", 1000, 1000), "one two");
    }
}
