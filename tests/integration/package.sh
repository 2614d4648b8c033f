#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The Debian package `make deb` built: its contents and control files, then
# (as root) installed with dpkg -i on this machine: the binary runs, both man
# pages render, systemd-analyze verifies the unit, the shipped configuration
# passes `osa config check`, the bash completion offers every command of
# `osa --help`; then purged.  Without root it checks the unpacked files.
#   package.sh DEB
set -eu
DEB=$1
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

dpkg-deb --info "$DEB" >"$W/info" || { echo "FAIL: not a .deb: $DEB"; exit 1; }
dpkg-deb --contents "$DEB" >"$W/contents"
for f in ./usr/bin/osa ./etc/osa/osa.cfg ./usr/lib/systemd/system/osa.service \
	./usr/share/man/man1/osa.1.gz ./usr/share/man/man5/osa.cfg.5.gz \
	./usr/share/bash-completion/completions/osa; do
	grep -q " $f\$" "$W/contents" || die "package lacks $f"
done
grep -q "include/osa\|\.a\$" "$W/contents" && die "package carries the dev files"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles >"$W/conffiles"
grep -qx /etc/osa/osa.cfg "$W/conffiles" || die "/etc/osa/osa.cfg is not a conffile"

if [ "$(id -u)" = 0 ]; then
	dpkg -i "$DEB" >"$W/dpkg.log" 2>&1 || { cat "$W/dpkg.log"; exit 1; }
	ROOT=
else
	echo "package: not root; checking the unpacked files instead of dpkg -i"
	dpkg-deb -x "$DEB" "$W/root"
	ROOT=$W/root
fi
OSA=$ROOT/usr/bin/osa
"$OSA" --version || die "osa --version failed"
file "$OSA" | grep -q "statically linked" || die "osa is not static"
MANWIDTH=80 man -l "$ROOT/usr/share/man/man1/osa.1.gz" >"$W/osa.1.txt" 2>&1 ||
	die "man -l osa.1 failed"
MANWIDTH=80 man -l "$ROOT/usr/share/man/man5/osa.cfg.5.gz" >"$W/osa.cfg.5.txt" 2>&1 ||
	die "man -l osa.cfg.5 failed"
for c in ingest search serve compact; do
	grep -q "$c" "$W/osa.1.txt" || die "osa(1) does not mention $c"
done
grep -q "server.listen" "$W/osa.cfg.5.txt" || die "osa.cfg(5) lacks server.listen"
grep -q "BACKEND vector" "$W/osa.cfg.5.txt" || die "osa.cfg(5) lacks the vector backend"
# The man page says what --help says: every command line of --help.
"$OSA" --help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort -u >"$W/cmds"
while read -r c; do
	grep -q "$c" "$W/osa.1.txt" || die "osa(1) lacks the command $c"
	grep -q "\\b$c\\b" "$ROOT/usr/share/bash-completion/completions/osa" ||
		die "bash completion lacks the command $c"
done <"$W/cmds"
# systemd's own check of the unit (it wants the binary at its path).
if [ -z "$ROOT" ]; then
	systemd-analyze verify /usr/lib/systemd/system/osa.service >"$W/verify" 2>&1 ||
		{ cat "$W/verify"; die "systemd-analyze verify failed"; }
	grep -v "^$" "$W/verify" | grep -iv "\bcgroup\|not booted\|inotify" && true
else
	grep -q "^Type=notify" "$ROOT/usr/lib/systemd/system/osa.service" || die "unit not Type=notify"
fi
for k in DynamicUser=yes StateDirectory=osa ProtectSystem=strict NoNewPrivileges=yes \
	"ExecReload=/bin/kill -HUP \$MAINPID"; do
	grep -qx "$k" "$ROOT/usr/lib/systemd/system/osa.service" || die "unit lacks $k"
done
"$OSA" -c "$ROOT/etc/osa/osa.cfg" config check || die "shipped config does not check"
grep -q '/var/lib/osa' "$ROOT/etc/osa/osa.cfg" || die "shipped config not on /var/lib/osa"
# The completion works in bash: complete "osa se" and "osa backends ".
if [ -f /usr/share/bash-completion/bash_completion ]; then
	out=$(bash -c "source /usr/share/bash-completion/bash_completion
		source '$ROOT/usr/share/bash-completion/completions/osa'
		COMP_WORDS=(osa se); COMP_CWORD=1; COMP_LINE='osa se'; COMP_POINT=6
		_osa; echo \"\${COMPREPLY[*]}\"")
	grep -qw search <<<"$out" && grep -qw serve <<<"$out" ||
		die "completion of 'osa se' gave: $out"
fi
if [ -z "$ROOT" ]; then
	dpkg -P osa >"$W/purge.log" 2>&1 || { cat "$W/purge.log"; die "dpkg -P failed"; }
	test -e /usr/bin/osa && die "/usr/bin/osa left after purge"
fi
[ $fail = 0 ] && echo "package: ok ($(basename "$DEB"))"
exit $fail
