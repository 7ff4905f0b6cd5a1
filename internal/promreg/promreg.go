// Package promreg registers Prometheus collectors the way every Chronos
// package wants them: idempotently, and without panicking.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it, or returns the collector
// registered before it under the same descriptors (a second set of
// metrics on the same registry shares the series). A nil reg registers
// nothing. A collector of another shape under the name leaves c
// unregistered: it counts, unexported.
func Register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(c); errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}
