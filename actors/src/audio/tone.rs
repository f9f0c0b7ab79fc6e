//! The sandbox tone codec: UTF-8 text ↔ μ-law audio. Each byte is two 40 ms symbols, a
//! high nibble from set A then a low nibble from set B; a symbol is a pair of tones (one of
//! four low, one of eight high, all within 300–3400 Hz). Decoding classifies 10 ms blocks
//! with Goertzel filters; because A and B alternate, a lost or cut frame costs at most the
//! byte it falls in, and the decoder resynchronises on the next A symbol. ~12.5 chars/s.

use std::sync::LazyLock;

use super::mulaw;

pub const SAMPLE_RATE: f32 = 8000.0;
/// Samples per symbol (40 ms).
pub const SYMBOL_SAMPLES: usize = 320;
/// Samples per analysis block (10 ms).
const BLOCK: usize = 80;
const LOW: [f32; 4] = [350.0, 550.0, 750.0, 950.0];
const HIGH: [f32; 8] = [1200.0, 1500.0, 1800.0, 2100.0, 2400.0, 2700.0, 3000.0, 3300.0];
/// Peak amplitude of each of the two tones (their sum stays near -5 dBFS).
const AMPLITUDE: f32 = 9000.0;
/// Blocks quieter than this RMS are silence.
const SILENCE_RMS: f32 = 600.0;
/// The winning tone of a group must carry this many times the runner-up's power.
const DOMINANCE: f32 = 4.0;

/// One symbol: which set and which nibble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Symbol {
    high_nibble: bool,
    nibble: u8,
}

impl Symbol {
    fn tones(self) -> (f32, f32) {
        let base = if self.high_nibble { 0 } else { 2 };
        let low = LOW[base + usize::from(self.nibble / 8)];
        (low, HIGH[usize::from(self.nibble % 8)])
    }
}

/// Milliseconds of audio `text` encodes to.
pub fn duration_ms(text: &str) -> u64 {
    text.len() as u64 * 2 * 40
}

/// The symbols of `text`, two per byte.
fn symbols(text: &str) -> impl Iterator<Item = Symbol> + '_ {
    text.bytes().flat_map(|byte| {
        [
            Symbol {
                high_nibble: true,
                nibble: byte >> 4,
            },
            Symbol {
                high_nibble: false,
                nibble: byte & 0x0F,
            },
        ]
    })
}

/// Index of a symbol in the tables below: set A's 16 nibbles, then set B's.
fn table_index(symbol: Symbol) -> usize {
    usize::from(!symbol.high_nibble) * 16 + usize::from(symbol.nibble)
}

/// Every symbol's samples, synthesised once (encoding is a copy per symbol).
static SYMBOL_PCM: LazyLock<Vec<[i16; SYMBOL_SAMPLES]>> = LazyLock::new(|| {
    (0..32u8)
        .map(|i| {
            let (f1, f2) = Symbol {
                high_nibble: i < 16,
                nibble: i % 16,
            }
            .tones();
            std::array::from_fn(|n| {
                let t = n as f32 / SAMPLE_RATE;
                let v = AMPLITUDE * ((std::f32::consts::TAU * f1 * t).sin() + (std::f32::consts::TAU * f2 * t).sin());
                v as i16
            })
        })
        .collect()
});

/// The same, μ-law encoded.
static SYMBOL_MULAW: LazyLock<Vec<[u8; SYMBOL_SAMPLES]>> =
    LazyLock::new(|| SYMBOL_PCM.iter().map(|pcm| pcm.map(mulaw::encode_sample)).collect());

/// Text to linear samples.
pub fn encode_pcm(text: &str) -> Vec<i16> {
    let mut out = Vec::with_capacity(text.len() * 2 * SYMBOL_SAMPLES);
    for symbol in symbols(text) {
        out.extend_from_slice(&SYMBOL_PCM[table_index(symbol)]);
    }
    out
}

/// Text to μ-law bytes (8 kHz mono), ready for `media` frames.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2 * SYMBOL_SAMPLES);
    for symbol in symbols(text) {
        out.extend_from_slice(&SYMBOL_MULAW[table_index(symbol)]);
    }
    out
}

/// Decodes a whole utterance of μ-law audio.
pub fn decode(mulaw_bytes: &[u8]) -> String {
    let mut d = ToneDecoder::default();
    d.push_mulaw(mulaw_bytes);
    d.finish()
}

/// The twelve tones, low group first.
const FILTERS: usize = LOW.len() + HIGH.len();

/// Each tone's Goertzel coefficient, `2·cos(2πf/fs)`.
static COEFFS: LazyLock<[f32; FILTERS]> = LazyLock::new(|| {
    std::array::from_fn(|k| {
        let freq = if k < LOW.len() { LOW[k] } else { HIGH[k - LOW.len()] };
        2.0 * (std::f32::consts::TAU * freq / SAMPLE_RATE).cos()
    })
});

/// Goertzel power of every tone over `block`, all filters in one pass over the samples.
fn powers(block: &[f32]) -> [f32; FILTERS] {
    let coeff = &*COEFFS;
    let (mut s1, mut s2) = ([0.0f32; FILTERS], [0.0f32; FILTERS]);
    for &x in block {
        for k in 0..FILTERS {
            let s = x + coeff[k] * s1[k] - s2[k];
            s2[k] = s1[k];
            s1[k] = s;
        }
    }
    std::array::from_fn(|k| s1[k] * s1[k] + s2[k] * s2[k] - coeff[k] * s1[k] * s2[k])
}

/// Index of the strongest filter if it dominates the runner-up.
fn dominant(powers: &[f32]) -> Option<usize> {
    let mut best = 0;
    for (i, p) in powers.iter().enumerate().skip(1) {
        if p.total_cmp(&powers[best]).is_gt() {
            best = i;
        }
    }
    let second = powers
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != best)
        .map(|(_, &p)| p)
        .max_by(f32::total_cmp)?;
    (powers[best] >= DOMINANCE * second).then_some(best)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Silence,
    Unknown,
    Symbol(Symbol),
}

fn classify(block: &[f32]) -> Block {
    let energy: f32 = block.iter().map(|x| x * x).sum();
    let rms = (energy / block.len() as f32).sqrt();
    if rms < SILENCE_RMS {
        return Block::Silence;
    }
    let all = powers(block);
    let (low, high) = all.split_at(LOW.len());
    let (Some(l), Some(h)) = (dominant(low), dominant(high)) else {
        return Block::Unknown;
    };
    // A clean tone pair puts about half of N·energy into its two filters.
    let captured = (low[l] + high[h]) / (block.len() as f32 * energy / 2.0);
    if captured < 0.5 {
        return Block::Unknown;
    }
    let high_nibble = l < 2;
    let nibble = ((l % 2) * 8 + h) as u8;
    Block::Symbol(Symbol { high_nibble, nibble })
}

/// Streaming decoder: push audio as it arrives, `finish` for the text.
#[derive(Debug, Default)]
pub struct ToneDecoder {
    pending: Vec<f32>,
    run: Option<Symbol>,
    symbols: Vec<Symbol>,
}

impl ToneDecoder {
    pub fn push_mulaw(&mut self, bytes: &[u8]) {
        self.pending
            .extend(bytes.iter().map(|&b| f32::from(mulaw::decode_sample(b))));
        self.drain_blocks();
    }

    pub fn push_pcm(&mut self, samples: &[i16]) {
        self.pending.extend(samples.iter().map(|&s| f32::from(s)));
        self.drain_blocks();
    }

    fn drain_blocks(&mut self) {
        let whole = self.pending.len() / BLOCK * BLOCK;
        for start in (0..whole).step_by(BLOCK) {
            let block = classify(&self.pending[start..start + BLOCK]);
            self.take(block);
        }
        self.pending.drain(..whole);
    }

    fn take(&mut self, block: Block) {
        match block {
            Block::Unknown => {}
            Block::Silence => {
                if let Some(s) = self.run.take() {
                    self.symbols.push(s);
                }
            }
            Block::Symbol(s) => {
                if self.run != Some(s)
                    && let Some(prev) = self.run.replace(s)
                {
                    self.symbols.push(prev);
                }
            }
        }
    }

    /// The text decoded so far (lossy on broken UTF-8).
    pub fn finish(mut self) -> String {
        if let Some(s) = self.run.take() {
            self.symbols.push(s);
        }
        let mut bytes = Vec::with_capacity(self.symbols.len() / 2);
        let mut iter = self.symbols.iter().peekable();
        while let Some(s) = iter.next() {
            if !s.high_nibble {
                continue;
            }
            if let Some(next) = iter.peek()
                && !next.high_nibble
            {
                bytes.push((s.nibble << 4) | next.nibble);
                iter.next();
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Hello! I'd like to book a table for 2 — ça va?";

    #[test]
    fn text_survives_the_mulaw_round_trip() {
        assert_eq!(decode(&encode(TEXT)), TEXT);
    }

    #[test]
    fn encoding_copies_exactly_what_direct_synthesis_gives() {
        let direct: Vec<i16> = symbols("Az~")
            .flat_map(|symbol| {
                let (f1, f2) = symbol.tones();
                (0..SYMBOL_SAMPLES).map(move |n| {
                    let t = n as f32 / SAMPLE_RATE;
                    (AMPLITUDE * ((std::f32::consts::TAU * f1 * t).sin() + (std::f32::consts::TAU * f2 * t).sin()))
                        as i16
                })
            })
            .collect();
        assert_eq!(encode_pcm("Az~"), direct);
        assert_eq!(encode("Az~"), mulaw::encode(&direct));
    }

    #[test]
    fn dominance_needs_a_clear_winner() {
        assert_eq!(dominant(&[1.0, 9.0, 2.0]), Some(1));
        assert_eq!(dominant(&[1.0, 9.0, 3.0]), None);
        assert_eq!(dominant(&[5.0, 5.0]), None);
    }

    #[test]
    fn the_rate_is_a_human_speaking_rate() {
        let secs = duration_ms("twelve chars") as f32 / 1000.0;
        let rate = 12.0 / secs;
        assert!((10.0..=15.0).contains(&rate), "{rate}");
        assert_eq!(encode("ab").len(), 4 * SYMBOL_SAMPLES);
    }

    #[test]
    fn symbols_sit_in_the_telephone_band() {
        for f in LOW.iter().chain(HIGH.iter()) {
            assert!((300.0..=3400.0).contains(f));
        }
    }

    #[test]
    fn decoding_tolerates_20ms_framing_offsets_and_silence() {
        let audio = encode("framing test");
        let mut d = ToneDecoder::default();
        d.push_mulaw(&[mulaw::SILENCE; 37]);
        for frame in audio.chunks(160) {
            d.push_mulaw(frame);
        }
        d.push_mulaw(&[mulaw::SILENCE; 400]);
        assert_eq!(d.finish(), "framing test");
    }

    #[test]
    fn a_lost_frame_costs_at_most_the_byte_it_falls_in() {
        let audio = encode("the quick brown fox");
        for lost in [3usize, 10, 17, 30] {
            let mut kept = audio.clone();
            kept.drain(lost * 160..(lost + 1) * 160);
            let got = decode(&kept);
            let distance = strsim_like(&got, "the quick brown fox");
            assert!(distance <= 2, "lost frame {lost}: {got:?}");
        }
    }

    #[test]
    fn a_cut_utterance_decodes_its_beginning() {
        let audio = encode("stop right there please");
        let got = decode(&audio[..audio.len() / 2 + 77]);
        assert!(
            "stop right there please".starts_with(got.trim_end_matches('\u{FFFD}')),
            "{got:?}"
        );
        assert!(got.len() >= 10);
    }

    /// Edit distance (small inputs only).
    fn strsim_like(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len() + 1];
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            }
            prev = cur;
        }
        prev[b.len()]
    }
}
