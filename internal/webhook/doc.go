// Package webhook sends alerts over HTTP the way the Standard Webhooks
// specification describes (https://www.standardwebhooks.com): each POST
// carries webhook-id, webhook-timestamp and webhook-signature, the
// signature an HMAC-SHA256 of id.timestamp.body under the subscription's
// whsec_ secret, so that receivers verify it with any Standard Webhooks
// library.
//
// It is also the guard between a subscriber's URL and the network: only
// http(s), no redirects followed, timeouts on connect and on the whole
// request, response bodies read to a small limit, and no connection to a
// loopback, private, link-local or metadata address. The address check
// runs on the address actually dialled (net.Dialer.Control), after DNS,
// so a name that resolves, or rebinds, to such an address gets nowhere.
package webhook
