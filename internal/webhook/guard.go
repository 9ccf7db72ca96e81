package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Errors of the guard. A URL refused at creation wraps ErrBadURL or
// ErrForbiddenAddress; a dial refused at delivery wraps ErrForbiddenAddress.
var (
	ErrBadURL           = errors.New("webhook URL not accepted")
	ErrForbiddenAddress = errors.New("webhook address refused")
)

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2048

// Guard decides which addresses webhooks may reach. The zero value is the
// safe default: public unicast addresses only.
type Guard struct {
	// AllowLoopback lets deliveries reach loopback addresses (127.0.0.0/8
	// and ::1), for local testing. Every other private address stays
	// refused.
	AllowLoopback bool
}

// refused are the networks no webhook may reach, with the reason shown.
// IPv4-mapped IPv6 addresses are unmapped before the look-up; IPv6 forms
// that embed an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible) are
// refused whole, since no receiver needs them.
var refused = func() []struct {
	p      netip.Prefix
	reason string
} {
	list := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "unspecified"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared (carrier-grade NAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (cloud metadata)"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"},
		{"::1/128", "loopback"},
		{"::/96", "unspecified or IPv4-compatible"},
		{"64:ff9b::/96", "NAT64"},
		{"64:ff9b:1::/48", "NAT64"},
		{"100::/64", "discard"},
		{"2001::/32", "Teredo"},
		{"2001:db8::/32", "documentation"},
		{"2002::/16", "6to4"},
		{"fc00::/7", "unique local (private, incl. cloud metadata fd00:ec2::254)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]struct {
		p      netip.Prefix
		reason string
	}, len(list))
	for i, l := range list {
		out[i].p, out[i].reason = netip.MustParsePrefix(l.cidr), l.reason
	}
	return out
}()

// CheckAddr refuses an address no webhook may reach, saying why.
func (g Guard) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenAddress)
	}
	a = a.WithZone("").Unmap()
	if g.AllowLoopback && a.IsLoopback() {
		return nil
	}
	for _, r := range refused {
		if r.p.Contains(a) {
			return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, a, r.reason)
		}
	}
	return nil
}

// CheckURL is the check at creation: an absolute http(s) URL without
// credentials, whose host is a name or a public address. A name is
// resolved only when a delivery dials it, and checked then.
func (g Guard) CheckURL(raw string) error {
	if len(raw) > MaxURLLength {
		return fmt.Errorf("%w: longer than %d characters", ErrBadURL, MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: scheme must be http or https", ErrBadURL)
	case u.Opaque != "" || u.Host == "":
		return fmt.Errorf("%w: no host", ErrBadURL)
	case u.User != nil:
		return fmt.Errorf("%w: credentials in the URL are not kept; authenticate with the signature", ErrBadURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: port %q", ErrBadURL, p)
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return fmt.Errorf("%w: no host", ErrBadURL)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return g.CheckAddr(a)
	}
	if numericHost(host) {
		// 2130706433, 0177.0.0.1, 0x7f.1, 127.1: forms that some resolvers
		// turn into an address. Nobody needs them; refuse them all.
		return fmt.Errorf("%w: host %q is a number in a non-standard form", ErrForbiddenAddress, host)
	}
	if !g.AllowLoopback && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return fmt.Errorf("%w: %s is loopback", ErrForbiddenAddress, host)
	}
	if strings.ContainsAny(host, "%[]") {
		return fmt.Errorf("%w: host %q", ErrBadURL, host)
	}
	return nil
}

// numericHost reports whether host is 1 to 4 dot-separated numbers in
// decimal, octal or hex: what inet_aton would read as an IPv4 address.
func numericHost(host string) bool {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		digits := p
		if h, ok := strings.CutPrefix(p, "0x"); ok {
			digits = h
			if digits == "" {
				return true // "0x" alone is 0 to inet_aton
			}
			for _, c := range digits {
				if !strings.ContainsRune("0123456789abcdef", c) {
					return false
				}
			}
			continue
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}
