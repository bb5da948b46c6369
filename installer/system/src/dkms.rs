//! DKMS's module-signing key. DKMS makes one when it first builds a module;
//! a key made when the image was built would be every installed system's
//! key, so it is removed and DKMS makes a new one on its next build.

use std::fs;
use std::path::Path;

const SIGNING_KEY: [&str; 2] = ["var/lib/dkms/mok.key", "var/lib/dkms/mok.pub"];

/// Removes the signing key from the system rooted at `root`, if it is there.
pub fn forget_signing_key(root: &Path) {
    for file in SIGNING_KEY {
        let _ = fs::remove_file(root.join(file));
    }
}
