// Package alert is the domain of Parley's alert subscriptions: who wants
// to hear about which developments (a Subscription and its Filter), what a
// receiver is sent (the Payload), how delivery is going (Status), and how
// long to wait before trying again (Backoff). It knows no NATS, bbolt or
// HTTP: package webhook signs and sends, package delivery keeps the
// subscriptions and queues their alerts on JetStream.
package alert
