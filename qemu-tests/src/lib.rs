//! The QEMU test harness for Hearth ISOs. Its machine builder, console
//! driver and scenarios arrive with the qemu-tests issue; the crate is part
//! of the workspace from the start so that the layout is the final one.
