//! The sandbox providers: stand-ins that behave like the real services end to end,
//! deterministically, on this machine.

pub mod a2p;
pub mod carrier;
pub mod email;
pub mod far_end;
pub mod latency;
pub mod stripe;
