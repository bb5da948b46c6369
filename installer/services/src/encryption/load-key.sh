# Written by the Hearth installer. The root pool's passphrase, asked on
# every console of the kernel command line at once (a screen and a serial
# line alike) until one is right. initramfs-tools' zfs script sources this
# in a subshell with ENCRYPTIONROOT and KEYLOCATION set; it returns once
# the key is loaded, from a console or by zfsunlock over SSH.
[ "$KEYLOCATION" = "prompt" ] || return 0

hearth_keystatus() {
	zfs get -H -o value keystatus "$ENCRYPTIONROOT" 2>/dev/null
}

hearth_consoles() {
	for word in $(cat /proc/cmdline); do
		case "$word" in
		console=*)
			name="${word#console=}"
			name="${name%%,*}"
			[ "$name" = tty0 ] && name=tty1
			echo "/dev/$name"
			;;
		esac
	done
}

hearth_ask() {
	tty="$1"
	while [ "$(hearth_keystatus)" = "unavailable" ]; do
		printf '\nEncrypted ZFS passphrase for %s: ' "$ENCRYPTIONROOT" >"$tty"
		stty -echo <"$tty" 2>/dev/null
		if ! IFS= read -r passphrase <"$tty"; then
			sleep 1
			continue
		fi
		stty echo <"$tty" 2>/dev/null
		printf '\n' >"$tty"
		if printf '%s\n' "$passphrase" | zfs load-key "$ENCRYPTIONROOT" >/dev/null 2>&1; then
			:
		elif [ "$(hearth_keystatus)" = "unavailable" ]; then
			printf 'Wrong passphrase; try again.\n' >"$tty"
		fi
		passphrase=
	done
}

hearth_ttys=
for hearth_tty in $(hearth_consoles); do
	case " $hearth_ttys " in
	*" $hearth_tty "*) ;;
	*) hearth_ttys="$hearth_ttys $hearth_tty" ;;
	esac
done
[ -n "$hearth_ttys" ] || hearth_ttys=/dev/console
hearth_pids=
for hearth_tty in $hearth_ttys; do
	[ -c "$hearth_tty" ] || continue
	hearth_ask "$hearth_tty" &
	hearth_pids="$hearth_pids $!"
done
# zfsunlock kills the console prompt it finds by this name: there is none.
echo "hearth-console-prompt" >/run/zfs_console_askpwd_cmd
while [ "$(hearth_keystatus)" = "unavailable" ]; do
	sleep 1
done
kill $hearth_pids 2>/dev/null
# The boot no longer waits for zfsunlock's session to say it is done: a
# dropped SSH connection must not hang it on that fifo.
rm -f /run/zfs_unlock_complete_notify
for hearth_tty in $hearth_ttys; do
	stty echo <"$hearth_tty" 2>/dev/null
	printf '\n%s unlocked; booting.\n' "$ENCRYPTIONROOT" >"$hearth_tty"
done
return 0
