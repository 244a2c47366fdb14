# Helpers for the DAV tests (sourced, not run): a `grove serve` in main mode
# (CalDAV/CardDAV + git on one store) on an ephemeral port, with users made
# by `grove user`.  Expects $GROVE, $tmp and fail() from the test; uses
# start_server/stop_server/kill_server from git_server.bash.

# dav_users NAME:PASS...: (re)creates $tmp/htpasswd with these users.
dav_users() {
	rm -f "$tmp/htpasswd"
	local up
	for up in "$@"; do
		printf '%s\n' "${up#*:}" | "$GROVE" -q user --htpasswd "$tmp/htpasswd" add "${up%%:*}" \
			--password-stdin || fail "grove user add ${up%%:*}"
	done
}

# dav_start [EXTRA SERVE OPTIONS...]: serves lmdb:$tmp/store; sets PORT, BASE.
dav_start() {
	start_server "$tmp/serve.log" "$GROVE" serve --store "lmdb:$tmp/store" \
		--htpasswd "$tmp/htpasswd" --listen 127.0.0.1:0 "$@"
	BASE="http://127.0.0.1:$PORT"
}

# dav_status USER:PASS METHOD URLPATH [CURL ARGS...]: prints the HTTP status.
dav_status() {
	local auth=$1 method=$2 path=$3; shift 3
	curl -s -o /dev/null -w '%{http_code}' -u "$auth" -X "$method" "$@" "$BASE$path"
}

# dav_put USER:PASS URLPATH FILE: PUT with a content type from the suffix.
dav_put() {
	local ct=text/calendar
	case "$2" in *.vcf) ct=text/vcard;; esac
	curl -s -o /dev/null -w '%{http_code}' -u "$1" -T "$3" -H "Content-Type: $ct" "$BASE$2"
}

# ics UID SUMMARY [EXTRA LINE]: a one-event iCalendar object on stdout.
ics() {
	printf '%s\r\n' BEGIN:VCALENDAR VERSION:2.0 'PRODID:-//grove tests//EN' BEGIN:VEVENT \
		"UID:$1" DTSTAMP:20240101T000000Z DTSTART:20240110T100000Z DTEND:20240110T110000Z \
		"SUMMARY:$2" ${3:+"$3"} END:VEVENT END:VCALENDAR
}

# vcf UID FN: a vCard 3.0 on stdout.
vcf() {
	printf '%s\r\n' BEGIN:VCARD VERSION:3.0 "UID:$1" "FN:$2" "N:$2;;;;" END:VCARD
}
