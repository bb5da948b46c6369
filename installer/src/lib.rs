//! Hearth's installer: the pure planner, the disk layer, the install and
//! first-boot provisioning, built on the schema (`hearth-schema`), the
//! system layer (`hearth-system`) and the services (`hearth-services`).

pub mod at_once;
pub mod be;
pub mod care;
pub mod cli;
pub mod console;
pub mod disk;
pub mod fleet;
pub mod install;
pub mod interactive;
pub mod kept;
pub mod live;
pub mod plan;
pub mod prepare;
pub mod provision;
pub mod replace;
pub mod restore_test;
pub mod unlock;

pub use hearth_schema::{
    answer, datasets, keypath, password, profile, reference, size, source, validate,
};
pub use hearth_services as services;
pub use hearth_system::{inventory, medium, runner, steps};

/// Loading profiles and answers; a profile is checked with its services.
pub mod load {
    pub use hearth_schema::load::*;
    pub use hearth_services::load_profile as profile;
}
