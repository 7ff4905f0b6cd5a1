package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronos-go/chronos/client"
	"github.com/chronos-go/chronos/events"
)

// The examples run against the Chronos that TestMain starts: apiURL is
// its HTTP API (e.g. "http://127.0.0.1:8080"), natsURL its nats-server.

// Optimistic concurrency: an update names the version it replaces, and a
// stale one is a *ConflictError carrying the current version.
func ExampleCollection_Update() {
	ctx := context.Background()
	c, err := client.New(apiURL, client.WithTimeout(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	orders := c.Collection(events.DBRuntime, events.TierTenant, "acme", "orders")

	created, err := orders.Create(ctx, map[string]any{"sku": "A-1", "qty": 1},
		client.WithActor(events.Actor{Type: "user", Identifier: "u-123", Name: "John Doe"}),
		client.WithReason("checkout"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created at ov", created.OV)

	updated, err := orders.Update(ctx, created.ID, map[string]any{"sku": "A-1", "qty": 2}, client.WithExpectedOV(created.OV))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("updated to ov", updated.OV)

	_, err = orders.Update(ctx, created.ID, map[string]any{"sku": "A-1", "qty": 3}, client.WithExpectedOV(created.OV))
	var conflict *client.ConflictError
	if errors.As(err, &conflict) {
		fmt.Println("conflict: the current ov is", conflict.CurrentOV)
	}
	// Output:
	// created at ov 0
	// updated to ov 1
	// conflict: the current ov is 1
}

// Reads come from the read model, which follows the log asynchronously:
// a read right after a write may not find it yet.
func ExampleCollection_Get() {
	ctx := context.Background()
	c, err := client.New(apiURL)
	if err != nil {
		log.Fatal(err)
	}
	orders := c.Collection(events.DBRuntime, events.TierTenant, "acme", "orders")
	res, err := orders.Create(ctx, []byte(`{"sku":"B-7","qty":5}`))
	if err != nil {
		log.Fatal(err)
	}
	var it *client.Item
	for {
		it, err = orders.Get(ctx, res.ID)
		if !errors.Is(err, client.ErrNotFound) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		log.Fatal(err)
	}
	var doc struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	if err := it.Decode(&doc); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d (ov %d, op %s)\n", doc.SKU, doc.Qty, it.System.OV, it.System.Op)
	// Output:
	// B-7: 5 (ov 0, op create)
}

// A batch reports each record's outcome; one bad record does not stop
// the others (atomic=false).
func ExampleCollection_Batch() {
	ctx := context.Background()
	c, err := client.New(apiURL)
	if err != nil {
		log.Fatal(err)
	}
	orders := c.Collection(events.DBRuntime, events.TierTenant, "acme", "orders")
	results, err := orders.Batch(ctx, []client.Record{
		{Data: map[string]any{"sku": "C-1"}},
		{Data: map[string]any{"$sku": "bad key"}},
		{Data: map[string]any{"sku": "C-2"}},
	}, false)
	if err != nil {
		log.Fatal(err)
	}
	for i, r := range results {
		fmt.Println(i, r.Status, errors.Is(r.Err, client.ErrInvalid))
	}
	// Output:
	// 0 201 false
	// 1 400 true
	// 2 201 false
}

// A direct producer pipelines writes to the log without the HTTP hop.
func ExampleProducer() {
	ctx := context.Background()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	p, err := client.NewProducer(ctx, js)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	readings := events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "plant-1", Name: "readings"}
	gateway := &events.Actor{Type: "service", Identifier: "gw-7"}
	var writes []*client.PendingWrite
	for i := range 3 {
		doc := fmt.Appendf(nil, `{"sensor":"t-%d","celsius":21.5}`, i)
		w, err := p.Create(ctx, readings.Item(""), doc, client.WriteMeta{Actor: gateway})
		if err != nil {
			log.Fatal(err)
		}
		writes = append(writes, w)
	}
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	for _, w := range writes {
		res, err := w.Ack(ctx)
		fmt.Println(res.OV, res.Seq > 0, err)
	}
	// Output:
	// 0 true <nil>
	// 0 true <nil>
	// 0 true <nil>
}
