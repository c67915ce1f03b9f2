package tests

import (
	"net"
	"net/netip"

	dto "github.com/prometheus/client_model/go"
)

type dtoFamily = dto.MetricFamily

func netipOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// testPublicKey is a verification key the unsigned dev bundle cannot
// satisfy: prod refuses that bundle before the key is ever used.
const testPublicKey = `
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsvr81n0qgVygub4DuM8F
bqXwPKMIrSs6k64AO59V+s8EM1t02sFo2vDCkQM3bqlwrNB27GbI5wcgRthNhGMM
JcAfMZMMQ9XUseMyEItvTY6pwPIJf5swBw3EDBm446czzXZZeQWLptmbzoMUpMdH
gZxj94WH/kEDToQkcePMHpwkoclXy/y1/FgD7TN1FRN7SINEacd1OsEscxZKzT5w
SUI2O4w8a124GYM1w4yDupX7pzuRODsXh8+olAc0DHOGaRvcrd/INX5hwllfnfqe
21vzBRj/vBCjEEdH3khPjTMZZyrC63qrceapaLnxTII/3udHLR1qggGYg11ZOEJ2
0QIDAQAB
-----END PUBLIC KEY-----
`
