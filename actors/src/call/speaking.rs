//! What the agent is saying: each utterance is cut into segments at word boundaries, each
//! followed by a mark, so the echoed marks tell how much the caller actually heard. Pure.

/// Segments end at the first word boundary after this many bytes.
const SEGMENT_BYTES: usize = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub id: u64,
    pub text: String,
    /// Byte offset in `text` where each segment ends.
    pub segment_ends: Vec<usize>,
    /// Segments whose mark came back (played).
    pub heard_segments: usize,
    pub greeting: bool,
    pub end_call: bool,
    /// Index of its transcript line and of its conversation turn.
    pub transcript_index: usize,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
            heard_segments: 0,
            greeting: false,
            end_call: false,
            transcript_index: 0,
            conversation_index: 0,
        };
        assert_eq!(u.heard(), "");
        u.heard_segments = 1;
        assert_eq!(u.heard(), "one two three");
        u.heard_segments = u.segment_ends.len();
        assert!(u.finished());
        assert_eq!(u.heard(), u.text);
    }
}
