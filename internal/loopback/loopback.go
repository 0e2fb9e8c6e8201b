// Package loopback answers one question for every part that allows plain
// text or relaxed cookies only on this machine: does an address name a
// loopback host? One answer, so the IMAP, SMTP, configuration and web checks
// cannot drift apart.
package loopback

import (
	"net"
	"strings"
)

// Host reports whether host ("localhost", "127.0.0.1", "::1", "[::1]")
// names a loopback host. Names other than localhost are not resolved.
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// HostPort is Host for "host:port" (a bare host is accepted too).
func HostPort(hostport string) bool {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return Host(h)
	}
	return Host(hostport)
}
