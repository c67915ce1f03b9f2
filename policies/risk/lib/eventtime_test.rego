package risk.lib.eventtime_test

import data.risk.lib.eventtime

test_hour if {
	eventtime.hour("2026-03-01T02:30:00Z") == 2
	eventtime.hour("2026-03-01T23:59:59.999Z") == 23
	eventtime.hour("2026-03-01T00:00:00Z") == 0
}

test_hour_undefined_for_malformed_timestamp if {
	not eventtime.hour("yesterday")
}

test_clock_text if {
	eventtime.clock_text("2026-03-01T02:05:09Z") == "02:05 UTC"
	eventtime.clock_text("2026-03-01T17:45:00.25Z") == "17:45 UTC"
}

test_days_between if {
	eventtime.days_between("2026-02-27T02:30:00Z", "2026-03-01T02:30:00Z") == 2
	eventtime.days_between("2026-03-01T00:00:00Z", "2026-03-01T12:00:00Z") == 0.5
	eventtime.days_between("2026-03-01T12:00:00Z", "2026-03-01T00:00:00Z") == -0.5
	not eventtime.days_between("2026-03-01", "2026-03-01T00:00:00Z")
}

test_in_hours_same_day_window if {
	eventtime.in_hours(0, 0, 5)
	eventtime.in_hours(4, 0, 5)
	not eventtime.in_hours(5, 0, 5)
	not eventtime.in_hours(23, 0, 5)
	not eventtime.in_hours(3, 5, 5)
}

test_in_hours_window_past_midnight if {
	eventtime.in_hours(22, 22, 5)
	eventtime.in_hours(23, 22, 5)
	eventtime.in_hours(0, 22, 5)
	eventtime.in_hours(4, 22, 5)
	not eventtime.in_hours(5, 22, 5)
	not eventtime.in_hours(21, 22, 5)
	not eventtime.in_hours(12, 22, 5)
}
