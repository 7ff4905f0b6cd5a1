// Package fallbackq will own the retry policy (cenkalti/backoff mapped
// onto JetStream redelivery: NakWithDelay, MaxDeliver, BackOff,
// NumDelivered), the dead-letter stream CHRONOS_DLQ, and its inspect /
// replay / purge operations.
//
// Not built yet (see the retry and DLQ issue). Until then the offloader
// redelivers failed uploads with NakWithDelay and exponential delays, and
// the projector retries a failed batch in place; an undecodable event is
// logged and terminated (it stays in the log).
package fallbackq
