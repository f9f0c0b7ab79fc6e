//! Audio on the phone line: μ-law, the sandbox tone codec (text ↔ audio, used as the
//! sandbox STT and TTS), voice activity and turn detection. Pure code, no IO.

pub mod mulaw;
pub mod tone;
pub mod vad;

/// Bytes of μ-law in one 20 ms Media Streams frame.
pub const FRAME_BYTES: usize = 160;
/// Duration of one frame.
pub const FRAME_MS: u32 = 20;
