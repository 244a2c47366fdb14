#!/bin/sh
# The demo `make run` runs: an LMDB store in ./grove-data with keys written
# on two branches (main and feature), merged, and the resulting history.
# Usage: sh tools/run.sh path/to/grove
set -eu
GROVE=${1:-build/grove}
STORE=./grove-data
MARK_KEY=demo/README
MARK_TEXT="grove demo store (made by tools/run.sh; safe to delete)"

if [ ! -x "$GROVE" ]; then
	echo "run.sh: no grove binary at $GROVE (run make first)" >&2
	exit 2
fi
# Replace an old demo store, but never a store that is someone's data.
if [ -e "$STORE" ]; then
	if [ "$("$GROVE" --read-only -C "lmdb:$STORE" get "$MARK_KEY" 2>/dev/null || true)" = "$MARK_TEXT" ]; then
		rm -rf "$STORE"
	else
		STORE=$(mktemp -d ./grove-demo.XXXXXX)
		rmdir "$STORE"
		echo "note: ./grove-data exists and is not a demo store; using $STORE instead"
	fi
fi
# A fixed identity, and commit times a second apart (ending about now) so
# the history reads in the order it was written.
export GROVE_AUTHOR_NAME="Grove Demo" GROVE_AUTHOR_EMAIL="demo@grove.invalid"
clock=$(($(date +%s) - 60))
g() {
	clock=$((clock + 1))
	GROVE_AUTHOR_DATE="@$clock +0000" GROVE_COMMITTER_DATE="@$clock +0000" "$GROVE" -C "lmdb:$STORE" "$@"
}

echo "== grove init $STORE"
g init
echo "$MARK_TEXT" | tr -d '\n' | g -q set "$MARK_KEY" -m "mark this store as the demo's"
g -q set calendars/alice/work.ics "BEGIN:VCALENDAR
END:VCALENDAR" -m "alice: work calendar"
g -q set contacts/bob.vcf "BEGIN:VCARD
FN:Bob
END:VCARD" -m "bob's card"

echo "== a feature branch"
g branch feature
g -q --branch feature set contacts/carol.vcf "BEGIN:VCARD
FN:Carol
END:VCARD" -m "feature: add carol"
g -q --branch feature set calendars/alice/home.ics "BEGIN:VCALENDAR
END:VCALENDAR" -m "feature: alice's home calendar"
echo "== meanwhile on main"
g -q set contacts/bob.vcf "BEGIN:VCARD
FN:Bob Builder
END:VCARD" -m "bob's full name"

echo "== grove merge feature"
g merge feature -m "Merge branch 'feature'"
echo "== grove tree"
g tree
echo "== grove log --oneline"
g log --oneline
echo "== grove show (the merge)"
g show
echo "== grove stats"
g stats
echo "== grove fsck"
g fsck
echo
echo "The demo store is $STORE; try: $GROVE -C lmdb:$STORE log"
