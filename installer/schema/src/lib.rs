//! Hearth's schema: the profile and answer types, loading them with
//! `extends` and positions, and every check that needs no machine. No I/O
//! beyond reading the files it is asked to load.

pub mod answer;
pub mod datasets;
pub mod keypath;
pub mod load;
pub mod password;
pub mod profile;
pub mod reference;
pub mod size;
pub mod source;
pub mod validate;
