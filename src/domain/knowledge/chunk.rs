//! Heading-aware chunking of Markdown: the text is cut into sections at its headings (code
//! fences respected), sections too small to stand alone are merged with the next, and each
//! is split to a bounded size with overlap by `text-splitter`, which prefers Markdown's own
//! boundaries (blocks, then sentences, then words). Every chunk carries the path of the
//! headings above it.

use text_splitter::{ChunkConfig, MarkdownSplitter};

/// Sizes in characters.
#[derive(Debug, Clone, Copy)]
pub struct ChunkSizes {
    /// Sections shorter than this are merged with the next one.
    pub min: usize,
    /// Target size of a chunk.
    pub target: usize,
    /// No chunk is longer.
    pub max: usize,
    /// Characters repeated from the end of one chunk at the start of the next.
    pub overlap: usize,
}

impl Default for ChunkSizes {
    fn default() -> Self {
        Self {
            min: 300,
            target: 800,
            max: 1200,
            overlap: 120,
        }
    }
}

/// One chunk and the headings above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub heading_path: Vec<String>,
    pub text: String,
}

struct Section {
    path: Vec<String>,
    /// Its heading line (empty before the first heading).
    heading: String,
    /// What follows the heading.
    text: String,
}

/// `## Title` → `(2, "Title")`.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|b| *b == b'#').count();
    let rest = &line[level..];
    ((1..=6).contains(&level) && (rest.is_empty() || rest.starts_with(' ')))
        .then(|| (level, rest.trim().trim_end_matches('#').trim()))
}

fn sections(markdown: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut current = Section {
        path: Vec::new(),
        heading: String::new(),
        text: String::new(),
    };
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = fence {
            if trimmed.starts_with(f) {
                fence = None;
            }
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
        } else if let Some((level, title)) = heading(trimmed) {
            if !current.text.trim().is_empty() {
                out.push(current);
            }
            stack.retain(|(l, _)| *l < level);
            stack.push((level, title.to_string()));
            current = Section {
                path: stack.iter().map(|(_, t)| t.clone()).collect(),
                heading: line.to_string(),
                text: String::new(),
            };
            continue;
        }
        current.text.push_str(line);
        current.text.push('\n');
    }
    if !current.text.trim().is_empty() {
        out.push(current);
    }
    out
}

/// Chunks a Markdown text.
pub fn chunk(markdown: &str, sizes: ChunkSizes) -> Vec<Chunk> {
    let overlap = sizes.overlap.min(sizes.target.saturating_sub(1));
    let splitter = ChunkConfig::new(sizes.target..sizes.max.max(sizes.target))
        .with_overlap(overlap)
        .map(MarkdownSplitter::new)
        .unwrap_or_else(|_| MarkdownSplitter::new(ChunkConfig::new(sizes.target..sizes.max.max(sizes.target))));
    // A small section rides with the next one (under the first one's headings) when both
    // fit in one chunk.
    let mut merged: Vec<Section> = Vec::new();
    for s in sections(markdown) {
        match merged.last_mut() {
            Some(last)
                if last.text.trim().chars().count() < sizes.min
                    && last.text.chars().count() + s.heading.len() + s.text.chars().count() < sizes.max =>
            {
                last.text.push_str(&s.heading);
                last.text.push('\n');
                last.text.push_str(&s.text);
            }
            _ => merged.push(s),
        }
    }
    merged
        .into_iter()
        .flat_map(|s| {
            splitter
                .chunks(&s.text)
                .filter(|t| t.chars().any(char::is_alphanumeric))
                .map(|t| Chunk {
                    heading_path: s.path.clone(),
                    text: t.to_string(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_carry_their_heading_path_and_stay_bounded() {
        let long = "Refunds reach your card within five working days. ".repeat(60);
        let md = format!(
            "# Help\n\nIntro text that is long enough to stand on its own as a section of the page. {}\n\n## Refunds\n\n{long}\n\n### Exceptions\n\nGift cards are never refunded. {}\n\n```\n# not a heading\n```\n",
            "More words. ".repeat(30),
            "Ask us. ".repeat(50)
        );
        let chunks = chunk(&md, ChunkSizes::default());
        assert!(chunks.len() >= 4, "{chunks:#?}");
        assert_eq!(chunks[0].heading_path, ["Help"]);
        assert!(chunks.iter().any(|c| c.heading_path == ["Help", "Refunds"]));
        let last = chunks.last().unwrap();
        assert_eq!(last.heading_path, ["Help", "Refunds", "Exceptions"]);
        assert!(last.text.contains("# not a heading"));
        assert!(
            chunks.iter().all(|c| !c.text.starts_with('#')),
            "a heading alone: {chunks:#?}"
        );
        assert!(
            chunks.iter().all(|c| c.text.chars().count() <= 1200),
            "a chunk is too long"
        );
        // Consecutive pieces of one long section overlap.
        let refunds: Vec<_> = chunks
            .iter()
            .filter(|c| c.heading_path == ["Help", "Refunds"])
            .collect();
        assert!(refunds.len() >= 2);
        let tail: String = refunds[0]
            .text
            .chars()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(refunds[1].text.contains(tail.trim()), "no overlap: {refunds:#?}");
    }

    #[test]
    fn small_sections_are_merged_and_empty_text_gives_no_chunk() {
        let chunks = chunk("# A\n\nshort\n\n## B\n\nalso short\n", ChunkSizes::default());
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading_path, ["A"]);
        assert!(chunks[0].text.contains("## B"));
        assert!(
            !chunks[0].text.contains("# A"),
            "the heading is in the path, not the text"
        );
        assert!(chunk("", ChunkSizes::default()).is_empty());
        assert!(chunk("---\n\n***\n", ChunkSizes::default()).is_empty());
    }
}
