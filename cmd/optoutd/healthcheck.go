package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ncl-icb/optout-intake/config"
)

// runHealthcheck is `optoutd healthcheck [--live]`: GET /readyz (or
// /healthz with --live) on OPTOUT_HTTP_ADDR and exit 0 when it answers 200,
// 1 otherwise. Container HEALTHCHECKs call it (the image has no shell or
// curl).
func runHealthcheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	live := fs.Bool("live", false, "check /healthz (the process is alive) instead of /readyz (database and mailbox)")
	addr := fs.String("addr", "", "host:port to check (default OPTOUT_HTTP_ADDR)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("healthcheck takes no arguments")
	}
	if *addr == "" {
		*addr = httpAddrSetting(os.Getenv)
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	u, err := healthURL(*addr, path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("health check request: %w", err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health check %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check %s: %s: %s", u, resp.Status, msg)
	}
	fmt.Println(msg)
	return nil
}

// httpAddrSetting reads OPTOUT_HTTP_ADDR like the daemon does. A
// configuration with other bad values still yields the address, so the
// health check reports the daemon's state rather than the configuration's.
func httpAddrSetting(getenv func(string) string) string {
	if c, err := config.Load(getenv); err == nil {
		return c.HTTPAddr
	}
	if v := getenv("OPTOUT_HTTP_ADDR"); v != "" {
		return v
	}
	for _, s := range config.Settings {
		if s.Name == "OPTOUT_HTTP_ADDR" {
			return s.Default
		}
	}
	return "127.0.0.1:8080"
}

// healthURL makes the URL to check from a listen address: a wildcard host
// (":8080", "0.0.0.0:8080", "[::]:8080") is checked on loopback.
func healthURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", errors.Join(fmt.Errorf("OPTOUT_HTTP_ADDR %q must be host:port", addr), err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
