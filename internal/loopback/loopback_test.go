package loopback

import "testing"

func TestHostAndHostPort(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"localhost", true}, {"LocalHost", true}, {"127.0.0.1", true}, {"127.5.6.7", true},
		{"::1", true}, {"[::1]", true}, {"10.0.0.1", false}, {"example.org", false},
		{"localhost.example.org", false}, {"", false}, {"0.0.0.0", false},
	}
	for _, tt := range tests {
		if got := Host(tt.in); got != tt.want {
			t.Errorf("Host(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	ports := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1:8080", true}, {"[::1]:993", true}, {"localhost:25", true},
		{"imap.example.org:993", false}, {"localhost", true}, {"10.1.2.3:80", false},
	}
	for _, tt := range ports {
		if got := HostPort(tt.in); got != tt.want {
			t.Errorf("HostPort(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
