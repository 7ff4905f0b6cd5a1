package ingest

import (
	"fmt"
	"net/http"

	"github.com/chronos-go/chronos/internal/httpapi"
)

// ErrNotFound: the item does not exist, or is deleted (for writes that need
// a live item).
var ErrNotFound = httpapi.Sentinel("chronos: item not found", http.StatusNotFound, "not_found")

// ErrExists: a create named an item id that is already taken.
var ErrExists = httpapi.Sentinel("chronos: item already exists", http.StatusConflict, "already_exists")

// ErrBusy: a write without expectedOv lost the race too many times in a row.
var ErrBusy = httpapi.Sentinel("chronos: item is being written too often; retry", http.StatusServiceUnavailable, "busy")

// ConflictError is returned when the write's expected ov is not the item's
// current ov: someone else wrote first. Nothing was written.
type ConflictError struct {
	ID         string
	ExpectedOV uint64
	CurrentOV  uint64
	// Deleted reports that the current version is a deletion.
	Deleted bool
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("chronos: version conflict on %s: expected ov %d, current ov is %d", e.ID, e.ExpectedOV, e.CurrentOV)
}

// HTTPStatus maps a conflict to 409 version_conflict.
func (e *ConflictError) HTTPStatus() (int, string) { return http.StatusConflict, "version_conflict" }

// ErrorFields adds currentOv to the error body.
func (e *ConflictError) ErrorFields() map[string]any {
	return map[string]any{"currentOv": e.CurrentOV, "expectedOv": e.ExpectedOV}
}
