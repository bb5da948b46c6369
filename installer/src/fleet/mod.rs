//! Fleet installs: machines that say who they are (facts), the answer
//! server that answers each by its rules, and the report an install sends.

pub mod answers;
pub mod facts;
mod https;
pub mod report;
pub mod rules;
pub mod server;
pub mod template;
pub mod tls;
