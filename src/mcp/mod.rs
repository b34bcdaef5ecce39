pub mod dispatch;
pub mod era;
pub mod prompts;
pub mod ratelimit;
pub mod resources;
pub mod results;

pub use dispatch::*;
