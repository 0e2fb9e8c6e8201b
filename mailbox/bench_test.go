package mailbox

import (
	"context"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

const benchMessages = 2000

var (
	benchOnce  sync.Once
	benchCfg   Config
	benchBytes int64
	benchErr   error
)

// benchMailbox appends 2,000 client-shaped messages (60 % form replies with a
// 100-200 KB PDF, 30 % first contacts, 10 % auto-replies) once per run.
func benchMailbox(b *testing.B) Config {
	b.Helper()
	benchOnce.Do(func() {
		benchCfg = newUser(b, shared)
		c, err := shared.Login(benchCfg.User)
		if err != nil {
			benchErr = err
			return
		}
		defer c.Close()
		for i := 0; i < benchMessages; i += 100 {
			raws := make([][]byte, 100)
			for j := range raws {
				raws[j] = genMessage(mixKind(i+j), i+j)
			}
			for _, r := range raws {
				benchBytes += int64(len(r))
			}
			if _, err := appendRaw(c, raws); err != nil {
				benchErr = err
				return
			}
		}
	})
	if benchErr != nil {
		b.Fatalf("set up benchmark mailbox: %v", benchErr)
	}
	return benchCfg
}

func appendRaw(c *imapclient.Client, raws [][]byte) (int, error) {
	for _, raw := range raws {
		cmd := c.Append("INBOX", int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			return 0, err
		}
		if err := cmd.Close(); err != nil {
			return 0, err
		}
		if _, err := cmd.Wait(); err != nil {
			return 0, err
		}
	}
	return len(raws), nil
}

// BenchmarkFetchRaw measures fetching the 2,000 messages whole: with a bare
// go-imap client (UID FETCH BODY.PEEK[] in batches of 50) and with FetchNew.
func BenchmarkFetchRaw(b *testing.B) {
	cfg := benchMailbox(b)
	b.Run("bare-uid-fetch-50", func(b *testing.B) {
		c, err := imapclient.DialInsecure(cfg.Addr, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(cfg.User, cfg.Password).Wait(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(benchBytes)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				b.Fatal(err)
			}
			sd, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
			if err != nil {
				b.Fatal(err)
			}
			uids := sd.AllUIDs()
			n := 0
			for i := 0; i < len(uids); i += 50 {
				bufs, err := c.Fetch(imap.UIDSetNum(uids[i:min(i+50, len(uids))]...), &imap.FetchOptions{
					UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
				}).Collect()
				if err != nil {
					b.Fatal(err)
				}
				n += len(bufs)
			}
			if n != benchMessages {
				b.Fatalf("fetched %d messages, want %d", n, benchMessages)
			}
		}
		b.ReportMetric(float64(benchMessages*b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("FetchNew", func(b *testing.B) {
		c := dial(b, cfg)
		b.SetBytes(benchBytes)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			res, err := c.FetchNew(context.Background(), Cursor{}, func(Msg) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			if res.Delivered != benchMessages {
				b.Fatalf("FetchNew delivered %d, want %d", res.Delivered, benchMessages)
			}
		}
		b.ReportMetric(float64(benchMessages*b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkMove moves 200 messages to another folder, one MOVE per message
// or in one batched MOVE; each iteration moves them back untimed.
func BenchmarkMove(b *testing.B) {
	const n = 200
	cfg := newUser(b, shared)
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = genMessage(1, i)
	}
	appendAll(b, shared, cfg.User, "INBOX", raws)
	c := dial(b, cfg)
	ctx := context.Background()
	uidsIn := func(mbox string) []UID {
		var uids []UID
		if _, err := c.Select(ctx, mbox); err != nil {
			b.Fatal(err)
		}
		c.mu.Lock()
		sd, err := c.c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		c.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		uids = sd.AllUIDs()
		if len(uids) != n {
			b.Fatalf("%s holds %d messages, want %d", mbox, len(uids), n)
		}
		return uids
	}
	for _, mode := range []string{"one-per-command", "batched"} {
		for _, disable := range []bool{false, true} {
			name := mode + "/move"
			if disable {
				name = mode + "/copy-expunge"
			}
			b.Run(name, func(b *testing.B) {
				c.cfg.DisableMove = disable
				defer func() { c.cfg.DisableMove = false }()
				for range b.N {
					b.StopTimer()
					uids := uidsIn("INBOX")
					b.StartTimer()
					if mode == "batched" {
						if err := c.Move(ctx, uids, "Processed"); err != nil {
							b.Fatal(err)
						}
					} else {
						for _, u := range uids {
							if err := c.Move(ctx, []UID{u}, "Processed"); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.StopTimer()
					if err := c.MoveFrom(ctx, "Processed", uidsIn("Processed"), "INBOX"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
