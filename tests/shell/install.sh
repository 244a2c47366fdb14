#!/usr/bin/env bash
# make install into a DESTDIR, then build and run a program against the
# installed header and shared library through pkg-config; the library must
# export the public API only.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

make -C "$src" --no-print-directory -s install DESTDIR="$tmp/root" PREFIX=/usr >/dev/null
root=$tmp/root/usr
for f in include/grove.h lib/libgrove.a lib/libgrove.so.0 lib/pkgconfig/grove.pc bin/grove share/man/man1/grove.1; do
	[ -e "$root/$f" ] || fail "make install did not install $f"
done

cat > "$tmp/prog.c" <<'C'
#include <grove.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	grove *g;
	grove_buf b = { 0 };
	if (grove_open(&g, "mem:", NULL) < 0 || grove_set(g, "main", "k", "v", 1, NULL, NULL) < 0 ||
	    grove_get(g, "main", "k", &b) < 0) {
		fprintf(stderr, "%s\n", grove_error_message());
		return 1;
	}
	printf("%.*s %s\n", (int)b.size, (char *)b.data, GROVE_VERSION_STRING);
	grove_buf_dispose(&b);
	grove_close(g);
	return 0;
}
C
# A second install under a real prefix, so that grove.pc's paths are usable.
make -C "$src" --no-print-directory -s install PREFIX="$tmp/prefix" >/dev/null
root=$tmp/prefix
export PKG_CONFIG_PATH="$root/lib/pkgconfig"
cc -std=c11 -o "$tmp/prog" "$tmp/prog.c" $(pkg-config --cflags --libs grove) || fail "cannot build against the installed library"
out=$(LD_LIBRARY_PATH="$root/lib" "$tmp/prog") || fail "program against libgrove.so failed"
[ "${out%% *}" = "v" ] || fail "unexpected output: $out"
LD_LIBRARY_PATH="$root/lib" ldd "$tmp/prog" | grep -q "libgrove.so.0 => $root/lib" ||
	fail "the program is not linked to the installed libgrove.so.0"

internal=$(nm -D --defined-only "$root/lib/libgrove.so.0" | awk '{print $3}' | grep -c '^grove__' || true)
[ "$internal" = 0 ] || fail "libgrove.so exports $internal internal grove__ symbols"
public=$(nm -D --defined-only "$root/lib/libgrove.so.0" | awk '{print $3}' | grep -c '^grove_' || true)
[ "$public" -gt 50 ] || fail "libgrove.so exports only $public public symbols"
echo ok
