package risk.rules.blocked_device_test

import data.risk.lib.record
import data.risk.rules.blocked_device

_blocked := {"dev-emu-1": "emulator farm (case ATO-1)"}

_login := {
	"id": "l-1", "ts": "2026-03-01T10:00:00Z", "type": "login",
	"customer_id": "cus-1", "device_id": "dev-emu-1", "success": true,
}

_hit(r) := h if {
	h := blocked_device.hit with input as {"record": r}
		with data.risk.lists.blocked_devices as _blocked
}

test_fires_on_blocked_device if {
	_hit(_login) == {
		"reason": "login from device dev-emu-1, which is on the blocked-device list: emulator farm (case ATO-1)",
		"list_note": "emulator farm (case ATO-1)",
	}
}

test_fires_on_every_activity_type if {
	every t in record.types - {"label"} {
		_hit(object.union(_login, {"type": t}))
	}
}

test_labels_do_not_fire if {
	not _hit(object.union(_login, {"type": "label", "fraud": true}))
}

test_other_device_does_not_fire if {
	not _hit(object.union(_login, {"device_id": "dev-phone-2"}))
}

test_absent_fields_do_not_fire if {
	every field in ["type", "device_id"] {
		not _hit(object.remove(_login, [field]))
	}
}

test_shipped_list_blocks_its_devices if {
	every device in object.keys(data.risk.lists.blocked_devices) {
		blocked_device.hit with input as {"record": object.union(_login, {"device_id": device})}
	}
}
