//! Voice activity detection on 20 ms μ-law frames (energy against a threshold) and the pure
//! turn detector built on it: speech onset, speech length, end of turn after enough silence.

use super::mulaw;

/// Frames whose RMS is below this are silence (about -36 dBFS).
pub const DEFAULT_THRESHOLD_RMS: f32 = 500.0;

/// RMS of a μ-law frame, in linear 16-bit units.
pub fn rms(frame: &[u8]) -> f32 {
    if frame.is_empty() {
        return 0.0;
    }
    let sum: f64 = frame
        .iter()
        .map(|&b| {
            let s = f64::from(mulaw::decode_sample(b));
            s * s
        })
        .sum();
    (sum / frame.len() as f64).sqrt() as f32
}

pub fn is_speech(frame: &[u8], threshold_rms: f32) -> bool {
    rms(frame) >= threshold_rms
}

/// Milliseconds of audio in `bytes` of 8 kHz μ-law.
pub fn ms_of(bytes: usize) -> u64 {
    bytes as u64 / 8
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnSettings {
    /// Speech needed before a turn is considered started (filters clicks).
    pub onset_ms: u32,
    /// Silence that ends the caller's turn.
    pub end_silence_ms: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEvent {
    /// The caller started speaking (`onset_ms` of speech seen).
    SpeechStarted,
    /// The caller stopped: `end_silence_ms` of silence after `speech_ms` of speech.
    TurnEnded { speech_ms: u32 },
}

#[derive(Debug, Clone)]
pub struct TurnDetector {
    settings: TurnSettings,
    speech_ms: u32,
    silence_ms: u32,
    in_turn: bool,
}

impl TurnDetector {
    pub fn new(settings: TurnSettings) -> Self {
        Self {
            settings,
            speech_ms: 0,
            silence_ms: 0,
            in_turn: false,
        }
    }

    /// True between `SpeechStarted` and `TurnEnded`.
    pub fn in_turn(&self) -> bool {
        self.in_turn
    }

    /// Speech heard in the current turn (or run), in ms.
    pub fn speech_ms(&self) -> u32 {
        self.speech_ms
    }

    /// Feeds one frame's VAD decision.
    pub fn feed(&mut self, speech: bool, frame_ms: u32) -> Option<TurnEvent> {
        if speech {
            self.silence_ms = 0;
            self.speech_ms += frame_ms;
            if !self.in_turn && self.speech_ms >= self.settings.onset_ms {
                self.in_turn = true;
                return Some(TurnEvent::SpeechStarted);
            }
            return None;
        }
        if !self.in_turn {
            self.speech_ms = 0;
            return None;
        }
        self.silence_ms += frame_ms;
        if self.silence_ms >= self.settings.end_silence_ms {
            let speech_ms = self.speech_ms;
            self.reset();
            return Some(TurnEvent::TurnEnded { speech_ms });
        }
        None
    }

    pub fn reset(&mut self) {
        self.in_turn = false;
        self.speech_ms = 0;
        self.silence_ms = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::tone;

    #[test]
    fn tone_speech_is_well_above_the_threshold_and_silence_below() {
        let audio = tone::encode("hello");
        for frame in audio.chunks(160) {
            assert!(rms(frame) > 10.0 * DEFAULT_THRESHOLD_RMS, "{}", rms(frame));
        }
        assert!(!is_speech(&[mulaw::SILENCE; 160], DEFAULT_THRESHOLD_RMS));
    }

    #[test]
    fn a_turn_starts_after_onset_and_ends_after_enough_silence() {
        let mut d = TurnDetector::new(TurnSettings {
            onset_ms: 60,
            end_silence_ms: 100,
        });
        assert_eq!(d.feed(true, 20), None);
        assert_eq!(d.feed(false, 20), None);
        // A 20 ms click is forgotten.
        assert_eq!(d.speech_ms(), 0);
        assert_eq!(d.feed(true, 20), None);
        assert_eq!(d.feed(true, 20), None);
        assert_eq!(d.feed(true, 20), Some(TurnEvent::SpeechStarted));
        assert!(d.in_turn());
        for _ in 0..4 {
            assert_eq!(d.feed(false, 20), None);
        }
        // Speech inside the silence window keeps the turn open.
        assert_eq!(d.feed(true, 20), None);
        for _ in 0..4 {
            assert_eq!(d.feed(false, 20), None);
        }
        assert_eq!(d.feed(false, 20), Some(TurnEvent::TurnEnded { speech_ms: 80 }));
        assert!(!d.in_turn());
    }
}
