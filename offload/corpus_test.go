package offload

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// corpusDoc is one generated benchmark and test input.
type corpusDoc struct {
	name string
	data []byte
}

// corpus returns four deterministic, realistic JSON payloads: an IoT reading
// (~300 B), a trading order (~600 B), a nested customer document (~20 KiB)
// and a 1 MiB batch document. The same seed always gives the same bytes, so
// benchmark figures are comparable between runs and machines.
var corpus = sync.OnceValue(func() []corpusDoc {
	g := &corpusGen{r: rand.New(rand.NewPCG(2025, 7)), t: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}
	return []corpusDoc{
		{"iot-300B", g.marshal(g.iotReading())},
		{"order-600B", g.marshal(g.order())},
		{"nested-20KiB", g.marshal(g.customer(20 << 10))},
		{"doc-1MiB", g.marshal(g.batch(1 << 20))},
	}
})

type corpusGen struct {
	r *rand.Rand
	t time.Time
}

func (g *corpusGen) marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (g *corpusGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }
func (g *corpusGen) round(f float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(f*p)) / p
}
func (g *corpusGen) ts() string {
	g.t = g.t.Add(time.Duration(g.r.IntN(5000)) * time.Millisecond)
	return g.t.Format("2006-01-02T15:04:05.000Z")
}
func (g *corpusGen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

type iotLocation struct {
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
	Alt  float64 `json:"alt"`
	Site string  `json:"site"`
	Zone string  `json:"zone"`
}

type iotReading struct {
	DeviceID    string      `json:"deviceId"`
	TS          string      `json:"ts"`
	Temperature float64     `json:"temperature"`
	Humidity    float64     `json:"humidity"`
	Battery     int         `json:"battery"`
	RSSI        int         `json:"rssi"`
	Firmware    string      `json:"firmware"`
	Location    iotLocation `json:"location"`
	Status      string      `json:"status"`
	Seq         int         `json:"seq"`
}

func (g *corpusGen) iotReading() iotReading {
	return iotReading{
		DeviceID:    fmt.Sprintf("sensor-%s-%06d", g.pick("eu-west", "eu-central", "us-east"), g.r.IntN(1e6)),
		TS:          g.ts(),
		Temperature: g.round(15+g.r.Float64()*15, 2),
		Humidity:    g.round(30+g.r.Float64()*40, 1),
		Battery:     20 + g.r.IntN(81),
		RSSI:        -40 - g.r.IntN(60),
		Firmware:    g.pick("4.2.1", "4.2.3", "4.3.0"),
		Location: iotLocation{
			Lat: g.round(48+g.r.Float64(), 6), Lon: g.round(11+g.r.Float64(), 6), Alt: g.round(500+g.r.Float64()*40, 1),
			Site: g.pick("munich-plant-2", "augsburg-dc-1"), Zone: g.pick("hall-a", "hall-b", "cold-store"),
		},
		Status: g.pick("ok", "ok", "ok", "degraded"),
		Seq:    g.r.IntN(1e7),
	}
}

type order struct {
	OrderID       string             `json:"orderId"`
	ClientOrderID string             `json:"clientOrderId"`
	Symbol        string             `json:"symbol"`
	Side          string             `json:"side"`
	Type          string             `json:"type"`
	TimeInForce   string             `json:"timeInForce"`
	Qty           int                `json:"qty"`
	FilledQty     int                `json:"filledQty"`
	Price         float64            `json:"price"`
	AvgFillPrice  float64            `json:"avgFillPrice"`
	Currency      string             `json:"currency"`
	Account       string             `json:"account"`
	Trader        string             `json:"trader"`
	Desk          string             `json:"desk"`
	Venue         string             `json:"venue"`
	Route         string             `json:"route"`
	Timestamps    map[string]string  `json:"timestamps"`
	Flags         map[string]bool    `json:"flags"`
	Status        string             `json:"status"`
	Fees          map[string]float64 `json:"fees"`
	Tags          []string           `json:"tags"`
}

func (g *corpusGen) order() order {
	qty := (1 + g.r.IntN(50)) * 100
	price := g.round(20+g.r.Float64()*400, 2)
	return order{
		OrderID:       fmt.Sprintf("ord-%s-%08d", g.t.Format("20060102"), g.r.IntN(1e8)),
		ClientOrderID: fmt.Sprintf("c-%s-%s-%s-%s-%s", g.hex(8), g.hex(4), g.hex(4), g.hex(4), g.hex(12)),
		Symbol:        g.pick("AAPL", "MSFT", "NVDA", "SAP.DE", "ASML.AS"),
		Side:          g.pick("buy", "sell"),
		Type:          g.pick("limit", "market"),
		TimeInForce:   g.pick("day", "gtc", "ioc"),
		Qty:           qty, FilledQty: qty / (1 + g.r.IntN(4)),
		Price: price, AvgFillPrice: g.round(price*(0.999+g.r.Float64()*0.002), 4),
		Currency: g.pick("USD", "EUR"), Account: fmt.Sprintf("ACC-%04d-%04d", g.r.IntN(1e4), g.r.IntN(1e4)),
		Trader: g.pick("jdoe", "asmith", "mkumar"), Desk: g.pick("equities-us", "equities-eu"),
		Venue: g.pick("XNAS", "XNYS", "XETR", "BATS"), Route: g.pick("smart", "direct"),
		Timestamps: map[string]string{"created": g.ts(), "accepted": g.ts(), "lastFill": g.ts(), "updated": g.ts()},
		Flags:      map[string]bool{"shortSell": g.r.IntN(10) == 0, "algo": g.r.IntN(2) == 0, "dma": false, "iceberg": false, "postOnly": g.r.IntN(5) == 0},
		Status:     g.pick("new", "partially_filled", "filled"),
		Fees:       map[string]float64{"commission": g.round(g.r.Float64()*10, 2), "exchange": g.round(g.r.Float64(), 4)},
		Tags:       []string{g.pick("rebalance", "hedge", "client"), g.pick("q1", "q2")},
	}
}

type lineItem struct {
	SKU        string            `json:"sku"`
	Name       string            `json:"name"`
	Qty        int               `json:"qty"`
	UnitPrice  float64           `json:"unitPrice"`
	Attributes map[string]string `json:"attributes"`
}

type customerOrder struct {
	OrderID  string            `json:"orderId"`
	PlacedAt string            `json:"placedAt"`
	Status   string            `json:"status"`
	Items    []lineItem        `json:"items"`
	Shipping map[string]string `json:"shipping"`
	Payment  map[string]any    `json:"payment"`
}

type customer struct {
	CustomerID  string              `json:"customerId"`
	Name        map[string]string   `json:"name"`
	Emails      []string            `json:"emails"`
	Addresses   []map[string]string `json:"addresses"`
	Preferences map[string]any      `json:"preferences"`
	Orders      []customerOrder     `json:"orders"`
}

func (g *corpusGen) address() map[string]string {
	return map[string]string{
		"street": fmt.Sprintf("%s %d", g.pick("Hauptstraße", "Main Street", "Rue de Rivoli", "Calle Mayor"), 1+g.r.IntN(200)),
		"city":   g.pick("München", "Berlin", "Paris", "Madrid", "Boston"), "postalCode": fmt.Sprintf("%05d", g.r.IntN(1e5)),
		"country": g.pick("DE", "FR", "ES", "US"), "type": g.pick("home", "work", "billing"),
	}
}

// customer grows a customer document order by order until it reaches size.
func (g *corpusGen) customer(size int) customer {
	c := customer{
		CustomerID:  "cus_" + g.hex(24),
		Name:        map[string]string{"given": g.pick("Anna", "Lukas", "Chloé", "Mateo"), "family": g.pick("Müller", "Schmidt", "Dubois", "García")},
		Emails:      []string{g.hex(6) + "@example.com", g.hex(6) + "@mail.example.org"},
		Addresses:   []map[string]string{g.address(), g.address()},
		Preferences: map[string]any{"language": g.pick("de", "fr", "en"), "newsletter": true, "currency": "EUR", "channels": []string{"email", "push"}},
	}
	for len(g.marshal(c)) < size {
		o := customerOrder{
			OrderID: "ord_" + g.hex(16), PlacedAt: g.ts(), Status: g.pick("delivered", "shipped", "returned"),
			Shipping: g.address(),
			Payment:  map[string]any{"method": g.pick("card", "paypal", "sepa"), "last4": fmt.Sprintf("%04d", g.r.IntN(1e4)), "captured": true},
		}
		for range 1 + g.r.IntN(5) {
			o.Items = append(o.Items, lineItem{
				SKU: fmt.Sprintf("SKU-%s-%04d", g.pick("SHOE", "SHIRT", "BAG", "HAT"), g.r.IntN(1e4)), Name: g.pick("Running shoe", "Linen shirt", "Leather bag", "Wool hat"),
				Qty: 1 + g.r.IntN(3), UnitPrice: g.round(5+g.r.Float64()*200, 2),
				Attributes: map[string]string{"color": g.pick("black", "navy", "sand", "red"), "size": g.pick("S", "M", "L", "42", "43")},
			})
		}
		c.Orders = append(c.Orders, o)
	}
	return c
}

// batch grows a document of mixed readings and orders (an export, a day's
// log of a device fleet) until it reaches size.
func (g *corpusGen) batch(size int) map[string]any {
	var readings []iotReading
	var orders []order
	n := 0
	for n < size {
		if g.r.IntN(3) == 0 {
			o := g.order()
			orders = append(orders, o)
			n += len(g.marshal(o)) + 1
		} else {
			r := g.iotReading()
			readings = append(readings, r)
			n += len(g.marshal(r)) + 1
		}
	}
	return map[string]any{"exportId": "exp_" + g.hex(20), "generatedAt": g.ts(), "readings": readings, "orders": orders}
}
