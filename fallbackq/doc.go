// Package fallbackq turns consumer failures into JetStream redeliveries and,
// when retrying cannot help, into entries of a dead-letter queue that
// operators list, inspect, replay and purge. It replaces the seed's polled
// Mongo collections (chronos_fallback_ops / chronos_fallback_dead): here a
// retry IS a redelivery.
//
// # Retries
//
// A Policy comes from the configuration's `fallback` block (maxRetries,
// retryDelayMs, maxDelayMs, jitter; see Config) and is built on
// cenkalti/backoff: delivery n that fails waits RetryDelay·2^(n-1), capped
// at MaxDelay, with jitter. An event gets MaxDeliver = maxRetries+1
// deliveries.
//
// Classify sorts failures. Terminal (dead-lettered at once): invalid or
// undecodable events (events.ErrInvalid), MarkTerminal, a 4xx from a store
// other than 408/409/425/429. Retryable: timeouts, deadlines, network
// errors, 5xx, and anything unknown, so that nothing is dead-lettered
// before its retries are used up.
//
// Handler.Process applies it for an order-free consumer: Ack on success;
// NakWithDelay(Policy.Delay(NumDelivered)) on a retryable failure with
// deliveries left; otherwise a copy to the DLQ, then Term. If the copy
// fails, the message is Nak'ed with a delay instead (it comes back) and
// Process returns errors.Join(cause, dlqErr). Nothing is dropped.
//
// Two JetStream behaviours shape the consumer configuration:
//   - the Handler counts deliveries itself; the consumer's own MaxDeliver
//     stays unlimited. When a message reaches the server's MaxDeliver, the
//     server stops delivering it and moves the ack floor past it, so the
//     Nak after a failed DLQ copy on that delivery would lose the event.
//   - Policy.Schedule has the shape of a consumer BackOff list, but
//     consumers do not set BackOff: the server then replaces AckWait with
//     BackOff[0], and a slow but healthy upload would be redelivered while
//     still running. Redelivery after a crash waits AckWait.
//
// # The DLQ
//
// Stream CHRONOS_DLQ (file storage, subjects chronos.dlq.>, no age limit)
// holds one entry per consumer and failed event, on subject
// chronos.dlq.<consumer>.<original subject without "chronos.evt.">, with
// the event's body unchanged, its headers (except the JetStream control
// headers Nats-*, which would act on the DLQ stream; the original
// Nats-Msg-Id is kept as Chronos-Orig-Msg-Id) and Chronos-Error,
// Chronos-Error-Class, Chronos-Attempts, Chronos-Consumer, Chronos-Orig-Seq,
// Chronos-Orig-Subject, Chronos-Orig-Stream, Chronos-Orig-Time,
// Chronos-Failed-At. The copy carries Nats-Msg-Id
// <consumer>:<stream>:<seq>, so a crash between the copy and the Term
// cannot create a second entry.
//
// # Replay
//
// Replaying never writes to the event log: republishing an event on its
// chronos.evt subject would make it a new version of its item. Instead:
//
//  1. Replay copies the entry to the work-queue stream CHRONOS_REPLAY, on
//     chronos.replay.<consumer>.<original subject tail>, with header
//     Chronos-Dlq-Seq naming the entry. The entry stays in the DLQ.
//  2. Each consumer that takes replays runs Handler.RunReplay next to its
//     main loop: a durable consumer named after it on its replay subjects,
//     feeding the same HandlerFunc through Process. The message it sees
//     has the original subject, stream, sequence, stream time and
//     headers, so the consumer decodes it exactly as the first time.
//  3. On success Process acknowledges the replay message with a confirmed
//     ack (the work queue then drops it), and only then deletes the DLQ
//     entry by sequence. A crash in between leaves the entry: replaying it
//     again is harmless for an idempotent consumer.
//  4. A replay that fails is retried on the policy; if it fails for good
//     the replay message is terminated and the entry is kept as it was.
//
// Replay refuses entries of consumers that run no replay consumer
// (ErrNoReplayConsumer): the projector's dead letters are undecodable
// events, which no replay can fix; they are inspected and purged.
//
// # Operations
//
// DLQ.List, Get, Replay, ReplayAll and Purge are what `chronos dlq` and the
// /v1/admin/dlq HTTP routes (HTTPHandler) call. Metrics (NewMetrics)
// counts retries and dead letters per consumer and reports the DLQ depth.
package fallbackq
