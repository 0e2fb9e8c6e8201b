package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultHashSlots is how many password hashes may run at once
// (Deps.HashSlots). Each argon2id run takes 19 MiB; attempts beyond the
// slots are answered 429 at once, without hashing.
const DefaultHashSlots = 4

// hashSlots bounds concurrent password hashes.
type hashSlots chan struct{}

// take claims a slot without waiting; it reports false when all are busy.
func (h hashSlots) take() bool {
	select {
	case h <- struct{}{}:
		return true
	default:
		return false
	}
}

func (h hashSlots) release() { <-h }

// peerAddr is the address of the direct peer (the proxy, if there is one).
func peerAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap(), true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

func (s *server) trusted(a netip.Addr) bool {
	for _, p := range s.d.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether the direct peer is one of
// OPTOUT_TRUSTED_PROXIES, whose X-Forwarded-* headers are believed.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	a, ok := peerAddr(r)
	return ok && s.trusted(a)
}

// clientAddress is the address sign-in limits count: the direct peer,
// unless it is a trusted proxy, in which case the nearest address in
// X-Forwarded-For that is not itself a trusted proxy (read from the right,
// as each proxy appends the address it saw; anything further left was
// written by the client and proves nothing).
func (s *server) clientAddress(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: stop at the last address we can trust
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

// overHTTPS reports whether the browser reached us over HTTPS: directly,
// or through a trusted proxy that says so in X-Forwarded-Proto.
func (s *server) overHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.fromTrustedProxy(r) && strings.EqualFold(strings.TrimSpace(lastValue(r.Header.Get("X-Forwarded-Proto"))), "https")
}

// lastValue is the last entry of a comma-separated header (the one the
// nearest proxy wrote).
func lastValue(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		return v[i+1:]
	}
	return v
}
