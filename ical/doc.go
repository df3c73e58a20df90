// Package ical reads and writes iCalendar (RFC 5545) and expands its
// recurrences. It knows nothing of what the events mean, so that any
// program that needs to read what calendar programs write can use it.
//
// # Recurrence rules
//
// A [Rule] is the value of an RRULE property; [ParseRule] reads one and
// [Rule.String] writes it back. [Rule.Between] expands a rule lazily from
// a DTSTART, in the local wall-clock time of DTSTART's location: a rule
// starting at 22:00 Europe/Paris stays at 22:00 across daylight-saving
// changes, a local time that does not exist moves forward by the length
// of the gap, and one that occurs twice means its first occurrence. Every
// rule part of RFC 5545 is supported, including BYSETPOS, BYWEEKNO with
// WKST and negative ordinals; a rule without COUNT skips ahead to the
// period of the range asked for instead of walking from DTSTART.
//
// # Recurrence sets
//
// A [Set] is everything that makes up the instances of one event:
// DTSTART, a rule, RDATE instants and periods, EXDATE instants, and the
// overrides that VEVENTs with a RECURRENCE-ID carry ([Override]): an
// instance moved or resized, cancelled (STATUS:CANCELLED), or, with
// RANGE=THISANDFUTURE, every instance from one on. [Set.Between] yields
// the [Instance] values that overlap a range, in order of their start.
//
// # Reading and writing
//
// [Parse] reads a stream into [Component] values, unfolding lines and
// splitting parameters; [Component.WriteTo] writes them back folded at 75
// octets with CRLF line ends. [EscapeText], [UnescapeText] and
// [SplitText] handle TEXT values. [ReadEvents] goes further: it groups
// the VEVENTs of each series by UID, resolves their time zones and
// returns one [Event] per series with its [Set]; when the same instance
// is overridden twice, the higher SEQUENCE wins. Errors are [*Error]
// values that name the line at fault; nothing is returned with one.
//
// # Time zones
//
// A TZID is resolved in this order ([LoadZone]): an IANA name, also after
// stripping a path prefix such as Thunderbird's "/mozilla.org/20070129_1/";
// a Windows zone name such as "W. Europe Standard Time", which Outlook and
// Exchange write, mapped to an IANA name through CLDR's windowsZones table
// (generated into the package by go generate from Debian's
// unicode-cldr-core; the version is in windowszones.go); and otherwise the
// file's own VTIMEZONE of that TZID ([ZoneFromVTimezone]), whatever it is
// called.
//
// A [time.Location] cannot be built from rules, so a VTIMEZONE's
// observances are expanded into a list of offset changes (through the
// year 2200, and beyond it by a POSIX rule when the zone ends in the usual
// pair of yearly rules) and compiled into the zoneinfo form that
// [time.LoadLocationFromTZData] reads. The zone is then an ordinary
// location: the time package converts wall-clock times with it and rules
// expand in it like in any other. [IANAZone] finds an IANA zone that
// agrees with such a zone over a span, to name it again.
//
// A DATE value (an all-day event) and a floating DATE-TIME (no "Z", no
// TZID) have no zone. RFC 5545 leaves their instant to the reader;
// ReadEvents places them in [ReadOptions].Floating, UTC by default, so
// that a file reads the same on every machine. The non-standard
// X-WR-TIMEZONE that Google and Apple write is ignored: a time with a
// TZID or in UTC already says when it is. [VTimezone] writes the
// VTIMEZONE of a location for a range of years.
//
// # Limits
//
// [Parse] reads at most 16 MiB and 16 levels of nesting; a VTIMEZONE may
// hold at most 4096 offset changes; checking that an override names an
// instance of a series with COUNT walks at most 2^20 instances. Expansion
// is lazy and bounded by the year 9999; a caller that asks for an open
// range decides how many instances to take.
package ical
