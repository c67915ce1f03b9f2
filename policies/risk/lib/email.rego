# Package risk.lib.email takes e-mail addresses apart. The runner has already
# trimmed and lower-cased them (policies/schema.yaml).
package risk.lib.email

# domain is the part after the single "@" of an address; undefined when the
# address has no "@", more than one, or nothing on either side.
domain(address) := parts[1] if {
	parts := split(address, "@")
	count(parts) == 2
	parts[0] != ""
	parts[1] != ""
}
