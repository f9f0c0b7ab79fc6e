//! The actors of ThruAI. `CallActor` runs one live call (lifecycle, voice pipeline,
//! barge-in, tools); `CallRegistry` finds it. The crate never imports the application: it
//! declares its ports (`ports.rs`) and the application implements them.

pub mod audio;
pub mod call;
pub mod ports;
pub mod registry;

pub use call::{CallActor, CallHandle, CallSetup};
pub use registry::CallRegistry;
