//! The machine's module-signing key (made at install, see the installer's
//! machine_key) is its identity to the firmware once enrolled: kept, so a
//! reinstall signs with a key shim already trusts.

use crate::profile::Profile;
use crate::{Kept, Service};
use hearth_system::secure_boot::{MACHINE_CERT, MACHINE_KEY};

pub struct MachineKey;

impl Service for MachineKey {
    fn kept(&self, _profile: &Profile) -> Vec<Kept> {
        vec![
            Kept::new(MACHINE_KEY, "module-signing key (DKMS, Secure Boot)"),
            Kept::new(MACHINE_CERT, "its certificate"),
        ]
    }
}
