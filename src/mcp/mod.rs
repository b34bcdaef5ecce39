//! The protocol, decided without side effects: each line becomes an
//! [`Action`] (`dispatch`) that the server's reader carries out, and every
//! result is shaped here for the revision the request speaks (`era`).
//!
//! Nothing here blocks, spawns a thread, holds a channel or counts metrics:
//! it runs on the reader thread and must stay cheap so the reader is always
//! free to hear the next line.

pub mod dispatch;
pub mod era;
pub mod handshake;
pub mod job;
pub mod pages;
mod params;
pub mod prompts;
pub mod ratelimit;
pub mod resources;
pub mod results;

pub use dispatch::{Action, PageCall, Refusal, Session};
pub use era::Era;
pub use job::{Job, ProgressToken};
pub use resources::Resource;
pub use results::Answer;
