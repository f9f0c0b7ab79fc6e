//! G.711 μ-law: the 8 kHz, 8-bit telephone encoding Twilio Media Streams carry
//! (`audio/x-mulaw`). Encode 16-bit linear PCM to μ-law and back.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// The byte of digital silence (linear 0).
pub const SILENCE: u8 = 0xFF;

/// One 16-bit sample to μ-law.
pub fn encode_sample(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    // The value fits in 8 bits by construction.
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// One μ-law byte to a 16-bit sample.
pub fn decode_sample(byte: u8) -> i16 {
    let b = i32::from(!byte);
    let sign = b & 0x80;
    let exponent = (b >> 4) & 0x07;
    let mantissa = b & 0x0F;
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    let v = if sign != 0 { -magnitude } else { magnitude };
    // |v| <= 32124 by construction.
    v as i16
}

pub fn encode(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode_sample(s)).collect()
}

pub fn decode(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| decode_sample(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_and_extremes_round_trip() {
        assert_eq!(decode_sample(SILENCE), 0);
        assert_eq!(encode_sample(0), SILENCE);
        assert!(decode_sample(encode_sample(i16::MAX)) > 30_000);
        assert!(decode_sample(encode_sample(i16::MIN)) < -30_000);
    }

    #[test]
    fn the_round_trip_error_is_within_the_segment_step() {
        for s in (-32_000..32_000).step_by(97) {
            let back = i32::from(decode_sample(encode_sample(s as i16)));
            let err = (back - s).abs();
            // μ-law keeps about 3.5% relative precision (plus a small absolute floor).
            assert!(err <= (s.abs() / 16).max(8), "{s} -> {back}");
        }
    }
}
