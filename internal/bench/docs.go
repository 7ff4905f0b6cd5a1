package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// iotDoc returns a reading of one of devices devices, about 300 bytes.
func iotDoc(rng *rand.Rand, devices int, seq uint64) []byte {
	dev := rng.IntN(devices)
	b := make([]byte, 0, 320)
	b = fmt.Appendf(b, `{"deviceId":"dev-%06d","ts":"%s","seq":%d,"temperature":%.2f,"humidity":%.2f,"pressure":%.1f,"battery":%.3f,"rssi":%d,`,
		dev, time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), seq,
		15+rng.Float64()*15, 30+rng.Float64()*40, 980+rng.Float64()*50, rng.Float64(), -40-rng.IntN(60))
	b = fmt.Appendf(b, `"location":{"lat":%.5f,"lon":%.5f},"firmware":"1.4.2","site":"plant-%d","tags":["floor-%d","line-%d"],"gateway":"gw-%02d","unit":"metric","status":"ok"}`,
		52+rng.Float64(), 13+rng.Float64(), dev%16, dev%5, dev%12, dev%64)
	return b
}

// tradingDoc returns the state of an instrument, about 600 bytes: prices,
// volume and five levels of each side of its book.
func tradingDoc(rng *rand.Rand, instrument string, seq uint64) []byte {
	mid := 100 + rng.Float64()*50
	b := make([]byte, 0, 640)
	b = fmt.Appendf(b, `{"instrument":"%s","venue":"XETR","currency":"EUR","ts":"%s","seq":%d,"bid":%.4f,"ask":%.4f,"last":%.4f,"volume":%d,"status":"trading",`,
		instrument, time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"), seq, mid-0.01, mid+0.01, mid, rng.IntN(10_000_000))
	for _, side := range []string{"bids", "asks"} {
		b = append(b, '"')
		b = append(b, side...)
		b = append(b, `":[`...)
		for l := range 5 {
			if l > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"px":%.4f,"qty":%d,"orders":%d}`, mid+float64(l)*0.01, 100+rng.IntN(10_000), 1+rng.IntN(40))
		}
		b = append(b, `],`...)
	}
	b = fmt.Appendf(b, `"trader":{"desk":"eq-%d","book":"B%04d"}}`, rng.IntN(8), rng.IntN(10_000))
	return b
}

// itemIDs returns n item ids unique to one run: prefix-<run>-<i>.
func itemIDs(prefix, run string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + "-" + run + "-" + strconv.Itoa(i)
	}
	return ids
}
