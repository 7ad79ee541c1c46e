//! The channel to the control plane (`vigil-cp`): a Unix socket carrying length-prefixed,
//! versioned postcard frames.
//!
//! [`msg`] is the one definition of the messages both processes use; [`frame`] cuts and
//! checks frames; [`client`] is the dataplane's link thread (reconnects, fail-static policy,
//! bounded outbound queue with counted drops); [`reports`] deduplicates connection reports
//! per worker without ever stalling it. The control plane's end is
//! `vigil_controlplane::link`.
#![forbid(unsafe_code)]
pub mod client;
pub mod frame;
pub mod msg;
pub mod reports;

pub use client::{Link, LinkConfig, LinkQueue, LinkStats, PolicyCallback};
pub use frame::{encode, FrameError, FrameReader, MAX_FRAME};
pub use msg::*;
pub use reports::{ConnKey, ConnRecord, ConnReporter, ReportCollector, ReporterStats};
