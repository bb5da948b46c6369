//! The disk layer on real image files (no root needed) and on loop devices
//! (root; skipped with a message elsewhere), checked by independent tools:
//! sgdisk, sfdisk, blkid, fsck.fat, mtools, wipefs.

mod images;
mod labels;
mod loops;
mod support;
