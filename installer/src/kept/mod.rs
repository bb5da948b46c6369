//! The server's kept state: its keys, secrets and device identities, kept
//! on the first data pool (`hearth keep`), put back by a reinstall, and
//! carried off the server in a recovery kit.

pub mod export;
pub mod keep;
pub mod kit;
pub mod restore;
pub mod tree;

#[cfg(test)]
mod tests;
