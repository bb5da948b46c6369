#!/bin/sh
# Hearth: copy the newest kernel and initrd to every ESP listed in
# /etc/hearth/esp-uuids, so each root disk still boots alone after a kernel
# or initramfs update (as proxmox-boot-tool does).
set -eu
list=/etc/hearth/esp-uuids
[ -r "$list" ] || exit 0
kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || exit 0
version=${kernel#/boot/vmlinuz-}
initrd=/boot/initrd.img-$version
[ -e "$initrd" ] || exit 0
mnt=$(mktemp -d)
trap 'umount "$mnt" 2>/dev/null || true; rmdir "$mnt"' EXIT
while read -r uuid; do
    [ -n "$uuid" ] || continue
    dev=/dev/disk/by-uuid/$uuid
    if [ ! -e "$dev" ]; then
        echo "hearth-esp-sync: ESP $uuid is missing (disk removed?); skipped" >&2
        continue
    fi
    mount -t vfat "$dev" "$mnt"
    cp "$kernel" "$mnt/vmlinuz.new" && mv "$mnt/vmlinuz.new" "$mnt/vmlinuz"
    cp "$initrd" "$mnt/initrd.img.new" && mv "$mnt/initrd.img.new" "$mnt/initrd.img"
    umount "$mnt"
    echo "hearth-esp-sync: kernel $version on ESP $uuid"
done < "$list"
