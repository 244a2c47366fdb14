#!/usr/bin/env python3
"""dav_gen.py - deterministic test data for the DAV benchmark (dav_bench.sh).

    dav_gen.py N OUTDIR [--files] [--fast-import USER]

makes N events ev-NNNNNN.ics and N contacts ct-NNNNNN.vcf.  The last 100 of
each go to OUTDIR/tail-cal/ and OUTDIR/tail-book/ (the benchmark PUTs them
over HTTP); --files writes the others to OUTDIR/cal/ and OUTDIR/book/ (for
the peers' storage); --fast-import USER writes to stdout a git fast-import
stream of one commit on refs/heads/main holding the others in grove's DAV
layout (USER/calendars/cal/, USER/addressbooks/book/, each with its .props).  The same N always gives the same bytes (a seeded PRNG, fixed
dates), so every server of a run, and every run, reads the same data.

Events: starts spread over 2024-01-01 .. 2025-12-31 at 15-minute steps in
working hours; 10% recurring (weekly with COUNT, daily with COUNT, monthly
with UNTIL, weekly on two days, yearly without end; some with EXDATE, some
with an overridden instance in the same object); 40% in a named time zone
with its VTIMEZONE (Europe/Berlin, America/New_York), 5% all-day, the rest
UTC; descriptions, locations, attendees and alarms on a share of them, as a
desktop client would write them.  Contacts: vCard 3.0 with N, FN, ORG,
EMAIL, TEL, ADR, and NOTE, BDAY, CATEGORIES on some.
"""
import os
import random
import sys

FIRST = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas",
         "Karin", "Lukas", "Marie", "Noah", "Olga", "Paul", "Quirin", "Rosa", "Sven", "Tina",
         "Uwe", "Vera", "Walter", "Xenia", "Yusuf", "Zoe", "Emma", "Liam", "Mia", "Oskar"]
LAST = ["Meyer", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann",
        "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun",
        "Hofmann", "Hartmann", "Lange", "Krause", "Smith", "Johnson", "Brown", "Garcia",
        "Miller", "Davis", "Martinez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor",
        "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris"]
TOPICS = ["Team meeting", "1:1", "Project review", "Dentist", "Lunch with", "Call with",
          "Sprint planning", "Retrospective", "Budget review", "Yoga", "Board meeting",
          "Customer visit", "Interview", "Workshop", "Release planning", "Training"]
PLACES = ["Room 1.12", "Room 2.03", "Cafeteria", "Online", "Main office, Berlin",
          "Client site", "Conference room A", "Hauptstr. 5, 10115 Berlin"]
CITIES = [("Berlin", "10115", "Germany"), ("Hamburg", "20095", "Germany"),
          ("Munich", "80331", "Germany"), ("New York", "10001", "USA"),
          ("Boston", "02108", "USA"), ("Zurich", "8001", "Switzerland")]

VTZ = {
    "Europe/Berlin": [
        "BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "X-LIC-LOCATION:Europe/Berlin",
        "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST",
        "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
        "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET",
        "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
        "END:VTIMEZONE"],
    "America/New_York": [
        "BEGIN:VTIMEZONE", "TZID:America/New_York", "X-LIC-LOCATION:America/New_York",
        "BEGIN:DAYLIGHT", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "TZNAME:EDT",
        "DTSTART:19700308T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "END:DAYLIGHT",
        "BEGIN:STANDARD", "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "TZNAME:EST",
        "DTSTART:19701101T020000", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU", "END:STANDARD",
        "END:VTIMEZONE"],
}

DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def civil(day_index):
    """Day 0 = 2024-01-01; returns (y, m, d) for 0 <= day_index < 731."""
    y = 2024
    while True:
        ylen = 366 if y % 4 == 0 else 365
        if day_index < ylen:
            break
        day_index -= ylen
        y += 1
    m = 0
    while True:
        ml = DAYS_IN_MONTH[m] if (m != 1 or y % 4 == 0) else 28
        if day_index < ml:
            return y, m + 1, day_index + 1
        day_index -= ml
        m += 1


def fold(line):
    """RFC 5545 folding at 75 octets (the data is ASCII)."""
    out = []
    while len(line) > 75:
        out.append(line[:75])
        line = " " + line[75:]
    out.append(line)
    return out


def ical_text(s):
    return s.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def event(i, rnd):
    uid = "ev-%06d@bench.grove" % i
    day = rnd.randrange(0, 731)
    y, m, d = civil(day)
    hh = rnd.randrange(8, 18)
    mm = rnd.choice([0, 15, 30, 45])
    dur = rnd.choice([30, 45, 60, 60, 90, 120])
    eh, em = hh + (mm + dur) // 60, (mm + dur) % 60
    kind = rnd.random()
    tz = None
    if kind < 0.05:
        allday = True
    else:
        allday = False
        r = rnd.random()
        tz = "Europe/Berlin" if r < 0.3 else ("America/New_York" if r < 0.4 else None)
    who = "%s %s" % (rnd.choice(FIRST), rnd.choice(LAST))
    topic = rnd.choice(TOPICS)
    summary = "%s %s" % (topic, who) if topic.endswith("with") else "%s (%s)" % (topic, who)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//grove bench//dav_gen 1.0//EN",
             "CALSCALE:GREGORIAN"]
    if tz:
        lines += VTZ[tz]

    def when(prop, y_, m_, d_, h_, mi_):
        if allday:
            return "%s;VALUE=DATE:%04d%02d%02d" % (prop, y_, m_, d_)
        if tz:
            return "%s;TZID=%s:%04d%02d%02dT%02d%02d00" % (prop, tz, y_, m_, d_, h_, mi_)
        return "%s:%04d%02d%02dT%02d%02d00Z" % (prop, y_, m_, d_, h_, mi_)

    def vevent(recurrence_id=None, extra_summary=""):
        v = ["BEGIN:VEVENT", "UID:" + uid,
             "DTSTAMP:2023%02d%02dT%02d%02d%02dZ" % (rnd.randrange(1, 13), rnd.randrange(1, 29),
                                                     rnd.randrange(24), rnd.randrange(60),
                                                     rnd.randrange(60)),
             "CREATED:20231201T090000Z", "LAST-MODIFIED:20231215T101500Z", "SEQUENCE:0"]
        if recurrence_id:
            v.append(recurrence_id)
        if allday:
            y2, m2, d2 = civil(min(day + 1, 730))
            v += [when("DTSTART", y, m, d, 0, 0), when("DTEND", y2, m2, d2, 0, 0)]
        else:
            v += [when("DTSTART", y, m, d, hh, mm), when("DTEND", y, m, d, min(eh, 23), em)]
        v.append("SUMMARY:" + ical_text(summary + extra_summary))
        if rnd.random() < 0.6:
            v.append("LOCATION:" + ical_text(rnd.choice(PLACES)))
        if rnd.random() < 0.5:
            v.append("DESCRIPTION:" + ical_text(
                "Agenda:\n1. Status of %s\n2. Open questions from %s\n3. Next steps and "
                "owners; please bring the numbers for Q%d." % (topic.lower(), who,
                                                               rnd.randrange(1, 5))))
        if rnd.random() < 0.3:
            org = rnd.choice(LAST).lower()
            v.append("ORGANIZER;CN=%s:mailto:%s@example.org" % (who, org))
            for _ in range(rnd.randrange(1, 4)):
                a = rnd.choice(LAST).lower()
                v.append("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;"
                         "CN=%s:mailto:%s@example.org" % (a.title(), a))
        v.append("STATUS:CONFIRMED")
        v.append("TRANSP:OPAQUE")
        return v

    main = vevent()
    override = None
    if i % 10 == 3:  # 10% recurring
        rule = rnd.randrange(5)
        if rule == 0:
            main.append("RRULE:FREQ=WEEKLY;COUNT=%d" % rnd.randrange(4, 30))
        elif rule == 1:
            main.append("RRULE:FREQ=DAILY;COUNT=%d" % rnd.randrange(2, 10))
        elif rule == 2:
            y2, m2, d2 = civil(min(day + 300, 730))
            main.append("RRULE:FREQ=MONTHLY;UNTIL=%04d%02d%02dT235959Z" % (y2, m2, d2))
        elif rule == 3:
            main.append("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=%d" % rnd.randrange(6, 40))
        else:
            main.append("RRULE:FREQ=YEARLY")
        if not allday and rule in (0, 3) and rnd.random() < 0.4:
            y2, m2, d2 = civil(min(day + 7, 730))
            main.append(when("EXDATE", y2, m2, d2, hh, mm))
        if not allday and rule == 0 and rnd.random() < 0.5:
            y2, m2, d2 = civil(min(day + 14, 730))
            override = vevent(when("RECURRENCE-ID", y2, m2, d2, hh, mm), " (moved)")
            # the moved instance is an hour later
            override = [ln.replace("T%02d%02d00" % (hh, mm), "T%02d%02d00" % (min(hh + 1, 23), mm))
                        if ln.startswith("DTSTART") else ln for ln in override]
    if rnd.random() < 0.25:
        main += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder",
                 "TRIGGER:-PT15M", "END:VALARM"]
    main.append("END:VEVENT")
    lines += main
    if override:
        override.append("END:VEVENT")
        lines += override
    lines.append("END:VCALENDAR")
    out = []
    for ln in lines:
        out += fold(ln)
    return ("\r\n".join(out) + "\r\n").encode()


def contact(i, rnd):
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    city, zipc, country = rnd.choice(CITIES)
    mail = "%s.%s%d@example.%s" % (first.lower(), last.lower(), i % 97, rnd.choice(["org", "com", "de"]))
    lines = ["BEGIN:VCARD", "VERSION:3.0", "PRODID:-//grove bench//dav_gen 1.0//EN",
             "UID:ct-%06d@bench.grove" % i, "N:%s;%s;;;" % (last, first),
             "FN:%s %s" % (first, last), "ORG:%s GmbH;Sales" % rnd.choice(LAST),
             "EMAIL;TYPE=INTERNET,WORK:" + mail,
             "TEL;TYPE=CELL:+49 1%02d %07d" % (rnd.randrange(50, 80), rnd.randrange(10 ** 7))]
    if rnd.random() < 0.5:
        lines.append("TEL;TYPE=WORK,VOICE:+49 30 %06d" % rnd.randrange(10 ** 6))
    lines.append("ADR;TYPE=WORK:;;%s %d;%s;;%s;%s" % (rnd.choice(["Hauptstr.", "Main St", "Ring"]),
                                                      rnd.randrange(1, 200), city, zipc, country))
    if rnd.random() < 0.3:
        lines.append("BDAY:19%02d-%02d-%02d" % (rnd.randrange(50, 100), rnd.randrange(1, 13),
                                                rnd.randrange(1, 29)))
    if rnd.random() < 0.3:
        lines.append("NOTE:Met at the %s conference\\, follow up about the offer." %
                     rnd.choice(["spring", "autumn", "partner"]))
    if rnd.random() < 0.4:
        lines.append("CATEGORIES:%s" % rnd.choice(["Work", "Family", "Friends", "Customers"]))
    lines += ["REV:20240101T000000Z", "END:VCARD"]
    out = []
    for ln in lines:
        out += fold(ln)
    return ("\r\n".join(out) + "\r\n").encode()


TAIL = 100

CAL_PROPS = (b"# grove collection properties\ntype: calendar\ncreated: 2024-01-01T00:00:00Z\n"
             b"components: VEVENT VTODO\n{DAV:}displayname: Bench calendar\n")
BOOK_PROPS = (b"# grove collection properties\ntype: addressbook\n"
              b"created: 2024-01-01T00:00:00Z\n{DAV:}displayname: Bench contacts\n")


def fi_file(out, path, data):
    out.write(b"M 100644 inline %s\ndata %d\n" % (path.encode(), len(data)))
    out.write(data)
    out.write(b"\n")


def main():
    args = sys.argv[1:]
    files = "--files" in args
    if files:
        args.remove("--files")
    fi_user = None
    if "--fast-import" in args:
        k = args.index("--fast-import")
        fi_user = args[k + 1]
        del args[k:k + 2]
    if len(args) != 2:
        sys.exit("usage: dav_gen.py N OUTDIR [--files] [--fast-import USER]")
    n, outdir = int(args[0]), args[1]
    rnd = random.Random(20240501)
    dirs = ["tail-cal", "tail-book"] + (["cal", "book"] if files else [])
    for d in dirs:
        os.makedirs(os.path.join(outdir, d), exist_ok=True)
    out = None
    if fi_user:
        out = sys.stdout.buffer
        msg = b"dav_gen: %d events, %d contacts\n" % (n - TAIL, n - TAIL)
        out.write(b"commit refs/heads/main\nauthor bench <bench@bench.grove> 1704067200 +0000\n"
                  b"committer bench <bench@bench.grove> 1704067200 +0000\n")
        out.write(b"data %d\n%s" % (len(msg), msg))
        fi_file(out, fi_user + "/calendars/cal/.props", CAL_PROPS)
        fi_file(out, fi_user + "/addressbooks/book/.props", BOOK_PROPS)
    for i in range(1, n + 1):
        ev, ct = event(i, rnd), contact(i, rnd)
        evn, ctn = "ev-%06d.ics" % i, "ct-%06d.vcf" % i
        tail = i > n - TAIL
        if tail or files:
            with open(os.path.join(outdir, "tail-cal" if tail else "cal", evn), "wb") as f:
                f.write(ev)
            with open(os.path.join(outdir, "tail-book" if tail else "book", ctn), "wb") as f:
                f.write(ct)
        if out and not tail:
            fi_file(out, "%s/calendars/cal/%s" % (fi_user, evn), ev)
            fi_file(out, "%s/addressbooks/book/%s" % (fi_user, ctn), ct)
    if out:
        out.write(b"done\n")
        out.flush()


if __name__ == "__main__":
    main()
