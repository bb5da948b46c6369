//! What every GRUB menu Hearth writes shares (the ISO's and each ESP's).

/// Menus on the serial console too: the QEMU tests and headless servers
/// have nothing else.
pub const SERIAL: &str = "serial --unit=0 --speed=115200\n\
terminal_input console serial\n\
terminal_output console serial\n";
