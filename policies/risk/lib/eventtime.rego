# Package risk.lib.eventtime reads the RFC 3339 UTC timestamps that the runner
# puts on records. Every function is undefined for a malformed timestamp, so a
# rule using it simply does not fire.
package risk.lib.eventtime

# hour is the hour of day (0-23, UTC) of a timestamp.
hour(ts) := time.clock(time.parse_rfc3339_ns(ts))[0]

# clock_text renders the UTC time of day of a timestamp: "02:30 UTC".
clock_text(ts) := sprintf("%02d:%02d UTC", [c[0], c[1]]) if {
	c := time.clock(time.parse_rfc3339_ns(ts))
}

# days_between is how many days (fractional) lie from earlier to later;
# negative when later is in fact earlier.
days_between(earlier, later) := (time.parse_rfc3339_ns(later) - time.parse_rfc3339_ns(earlier)) / 86400000000000 # ns per day

# in_hours says whether an hour lies in the window [start, end). A window
# whose start is after its end wraps past midnight: 22 to 5 covers 22:00-04:59.
in_hours(h, start, end) if {
	start <= end
	start <= h
	h < end
}

in_hours(h, start, end) if {
	start > end
	h >= start
}

in_hours(h, start, end) if {
	start > end
	h < end
}
