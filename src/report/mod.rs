//! What a run reports: typed [`event`]s as they happen, the device
//! [`inventory`] and the decoding [`counters`].
//!
//! [`history`] keeps a bounded time series per device.
//!
//! `watch` fills these in; `output` alone turns them into words or JSON.
//! Neither of the two imports the other: this module is where they meet, and
//! it knows nothing of serde, terminals or files.

pub mod counters;
pub mod event;
pub mod history;
pub mod inventory;
