#!/bin/sh
# `make run`: the main job, grove serve, on ./grove-data.
#
# First run: creates ./grove-data with a store (lmdb), a password file with
# the user "demo" and a random password (kept in ./grove-data/demo-password,
# mode 0600, for local use), a demo calendar with an event and an address
# book with a card.  Every run: prints the URLs and credentials and execs
# grove serve on 127.0.0.1:$GROVE_PORT (default 8080).  Installs nothing.
# Usage: sh tools/run.sh path/to/grove
# Environment: GROVE_PORT, GROVE_DATA (default ./grove-data).
set -eu
GROVE=${1:-build/grove}
DATA=${GROVE_DATA:-./grove-data}
PORT=${GROVE_PORT:-8080}
STORE=lmdb:$DATA/store
HTPASSWD=$DATA/htpasswd
USER_NAME=demo
PASSFILE=$DATA/demo-password
OLD_MARK="grove demo store (made by tools/run.sh; safe to delete)"

if [ ! -x "$GROVE" ]; then
	echo "run.sh: no grove binary at $GROVE (run make first)" >&2
	exit 2
fi

# An older `make run` left a plain demo store in ./grove-data: replace it,
# but never touch anything else.
if [ -e "$DATA/data.mdb" ] && [ ! -e "$HTPASSWD" ]; then
	if [ "$("$GROVE" --read-only -C "lmdb:$DATA" get demo/README 2>/dev/null || true)" = "$OLD_MARK" ]; then
		rm -rf "$DATA"
	else
		echo "run.sh: $DATA holds a store that is not grove serve's data; set GROVE_DATA=DIR" >&2
		exit 1
	fi
fi

if [ ! -e "$HTPASSWD" ]; then
	echo "== first run: creating $DATA (user $USER_NAME, a demo calendar and address book)"
	mkdir -p "$DATA"
	chmod 700 "$DATA"
	# 16 random letters and digits.
	PASS=$(od -An -N64 -tu1 /dev/urandom | tr -s ' \n' '\n\n' | grep -v '^$' |
		awk 'BEGIN { s = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789" }
		     { if (n < 16) { printf "%s", substr(s, $1 % length(s) + 1, 1); n++ } }')
	( umask 077 && printf '%s\n' "$PASS" > "$PASSFILE" )
	printf '%s\n' "$PASS" | "$GROVE" -q user --htpasswd "$HTPASSWD" add "$USER_NAME" --password-stdin

	export GROVE_AUTHOR_NAME="grove make run" GROVE_AUTHOR_EMAIL="demo@grove.invalid"
	g() { "$GROVE" -q -C "$STORE" "$@"; }
	g init
	now=$(date -u +%Y%m%dT%H%M%SZ)
	day=$(date -u +%Y%m%d)
	g set "$USER_NAME/calendars/personal/.props" "# grove collection properties
type: calendar
created: $now
components: VEVENT VTODO
{DAV:}displayname: Personal
" -m "make run: demo calendar"
	# A weekly event starting today at 09:00 UTC, and a one-off tomorrow.
	printf '%s\r\n' BEGIN:VCALENDAR VERSION:2.0 'PRODID:-//grove//make run//EN' BEGIN:VEVENT \
		UID:weekly-standup DTSTAMP:$now DTSTART:${day}T090000Z DTEND:${day}T091500Z \
		'SUMMARY:Weekly stand-up' RRULE:FREQ=WEEKLY END:VEVENT END:VCALENDAR |
		g set "$USER_NAME/calendars/personal/weekly-standup.ics" -m "make run: a weekly event"
	g set "$USER_NAME/addressbooks/contacts/.props" "# grove collection properties
type: addressbook
created: $now
{DAV:}displayname: Contacts
" -m "make run: demo address book"
	printf '%s\r\n' BEGIN:VCARD VERSION:3.0 UID:ada 'FN:Ada Lovelace' 'N:Lovelace;Ada;;;' \
		EMAIL:ada@example.invalid END:VCARD |
		g set "$USER_NAME/addressbooks/contacts/ada.vcf" -m "make run: a contact"
fi

PASS=$(cat "$PASSFILE" 2>/dev/null || echo "(not recorded: see grove user passwd)")
BASE=http://127.0.0.1:$PORT
cat <<EOF

grove serve on $BASE (data in $DATA; stop with Ctrl-C)

  user       $USER_NAME
  password   $PASS
  CalDAV     $BASE/dav/$USER_NAME/calendars/      (discovery: $BASE/.well-known/caldav)
  CardDAV    $BASE/dav/$USER_NAME/addressbooks/
  git        git clone $BASE/git/users/$USER_NAME.git   ($USER_NAME's own calendars and contacts)
             git clone $BASE/git/store.git        (the whole store: $USER_NAME is the git admin)

  more users: $GROVE user --htpasswd $HTPASSWD add NAME

EOF
exec "$GROVE" serve --store "$STORE" --htpasswd "$HTPASSWD" --listen "127.0.0.1:$PORT" \
	--git-admin "$USER_NAME"
