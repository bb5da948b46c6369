//! Hearth: a TOML profile becomes a ZFS home server. This crate holds the
//! schema (profile, answer), the disk inventory, the pure planner, and the
//! installer's commands built on them.

pub mod answer;
pub mod cli;
pub mod datasets;
pub mod disk;
pub mod install;
pub mod interactive;
pub mod inventory;
pub mod keypath;
pub mod live;
pub mod load;
pub mod plan;
pub mod profile;
pub mod provision;
pub mod reference;
pub mod replace;
pub mod restore_test;
pub mod runner;
pub mod services;
pub mod size;
pub mod source;
pub mod steps;
pub mod validate;
