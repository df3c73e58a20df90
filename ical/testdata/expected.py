#!/usr/bin/python3
"""Expected occurrences of the iCalendar test corpus, computed by an
implementation independent of ours: Debian's python3-icalendar (4.0.3)
and python3-recurring-ical-events (2.0.1).

Run it from the repository root whenever a corpus file changes:

    /usr/bin/python3 ical/testdata/expected.py ical/testdata/corpus/*.ics testdata/roundtrip/*.ics

For each FILE.ics it writes FILE.json: one [start, end, uid] triple per
occurrence overlapping [2026-01-01T00:00:00Z, 2027-01-01T00:00:00Z), start
and end in UTC (RFC 3339), sorted. Each file is read in a process of its
own, since icalendar caches VTIMEZONE definitions by TZID globally.

Conventions, the same as the defaults of ical.ReadEvents:
  * floating date-times and DATEs (all-day events) are read in UTC;
  * an instance with STATUS:CANCELLED (an override, or a whole cancelled
    series) does not occur: recurring-ical-events 2.0.1 still returns it,
    RFC 5545 section 3.8.1.11 says it is cancelled.
recurring-ical-events 2.0.1 knows neither RANGE=THISANDFUTURE nor RDATE
periods, so the corpus holds neither; the Go tests check those by hand.
"""
import datetime
import json
import subprocess
import sys

import icalendar
import recurring_ical_events

UTC = datetime.timezone.utc
FROM = datetime.datetime(2026, 1, 1, tzinfo=UTC)
TO = datetime.datetime(2027, 1, 1, tzinfo=UTC)


def instant(v):
    if not isinstance(v, datetime.datetime):  # a DATE
        v = datetime.datetime(v.year, v.month, v.day)
    if v.tzinfo is None:  # floating
        v = v.replace(tzinfo=UTC)
    return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def occurrences(path):
    with open(path, "rb") as f:
        cal = icalendar.Calendar.from_ical(f.read())
    out = []
    for ev in recurring_ical_events.of(cal).between(FROM, TO):
        if str(ev.get("STATUS", "")).upper() == "CANCELLED":
            continue
        start = ev["DTSTART"].dt
        end = ev["DTEND"].dt if "DTEND" in ev else start
        out.append([instant(start), instant(end), str(ev.get("UID", ""))])
    out.sort()
    return out


def main(paths):
    if len(paths) > 1:
        for p in paths:
            subprocess.run([sys.executable, __file__, p], check=True)
        return
    path = paths[0]
    with open(path[: -len(".ics")] + ".json", "w") as f:
        json.dump(occurrences(path), f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
