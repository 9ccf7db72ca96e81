// Package delivery keeps Parley's alert subscriptions and delivers the
// developments they match, at least once and in order per subscription,
// over JetStream with watermill. It adapts NATS (a KV bucket, two
// streams, one durable consumer per subscription) and watermill (a router
// per subscription with the poison-queue middleware) to the alert domain,
// and serves the /v1/subscriptions endpoints.
//
// # The path of an alert
//
//  1. The projector commits a batch; its developments are in the read
//     model's developments bucket, written in the same bbolt transaction as
//     the checkpoint. That bucket is the outbox: nothing matched is lost
//     to a crash between the commit and the publish.
//  2. The matcher (Service.Notify wakes it) reads the developments after
//     what it has scanned for each subscription, matches them against the
//     filters and publishes one message per (subscription, development)
//     to PARLEY_DELIVERIES on parley.deliveries.<subscription>, with
//     Nats-Msg-Id <subscription>.<seq>. It then records the development as
//     published in the KV key pos.<subscription>. Positions are marks of
//     a stream and a history (position.go): a stream replaced, or
//     restored from an older backup and written on, numbers other
//     developments with the same sequences. Several replicas doing
//     the same publish once: the duplicate window drops a concurrent twin,
//     and pos stops a replica that is behind (or new) from publishing what
//     another already has.
//  3. Each subscription has a durable consumer (alert_<subscription>) with
//     MaxAckPending 1: one message in flight across all replicas, so the
//     receiver gets them in order, and a slow receiver holds up only its own
//     subscription. Every replica runs a watermill router on it; JetStream
//     gives each message to one of them.
//  4. The handler makes one signed attempt (package webhook). A failure is
//     negatively acknowledged with an exponential, jittered delay
//     (NakWithDelay): the server keeps the message and its attempt count, so
//     the retry survives a restart and may be made by another replica, with
//     the same webhook-id. An alert still failing past the horizon (24 h
//     from when it was queued), or whose receiver answered 410, goes to the
//     dead list through watermill's poison-queue middleware:
//     PARLEY_DEAD_DELIVERIES, parley.deaddeliveries.<subscription>.
//
// Subscriptions are kept in the KV bucket PARLEY_ALERTS (sub.<id>,
// status.<id>, pos.<id>), which every replica watches and applies into its
// bbolt file, so that all replicas know every subscription and its status,
// and a restart serves them at once from the file.
package delivery
