package store_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/ncl-icb/optout-intake/vocab"
)

// benchConns are the connection counts both benchmarks run at, so the
// full transaction and the raw commit are compared in the same run.
var benchConns = []int{1, 8}

func parallel(b *testing.B, conns int, op func(i int64)) {
	var n atomic.Int64
	if conns == 1 {
		for b.Loop() {
			op(n.Add(1))
		}
		return
	}
	b.SetParallelism((conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op(n.Add(1))
		}
	})
}

// BenchmarkRecordSubmission measures the whole record-a-valid-form
// transaction (CompleteMessage: submission, attachment, register change,
// history, receipt and outcome emails, audit, conversation and ledger
// updates) per second.
func BenchmarkRecordSubmission(b *testing.B) {
	for _, conns := range benchConns {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			s := newStore(b, int32(conns))
			ctx := context.Background()
			conv, err := s.CreateConversation(ctx, "r@example.org")
			if err != nil {
				b.Fatal(err)
			}
			// Ledger rows are recorded when a message is fetched, in a
			// transaction of their own: make them up front.
			const pre = 30000
			if _, err := s.Pool().Exec(ctx, `insert into ledger (mailbox, uidvalidity, uid, received_at, raw)
				select 'INBOX', 1, g, now(), '\x00'::bytea from generate_series(1, $1) g`, pre); err != nil {
				b.Fatal(err)
			}
			var first int64
			if err := s.Pool().QueryRow(ctx, `select min(id) from ledger`).Scan(&first); err != nil {
				b.Fatal(err)
			}
			// Each resident has a conversation of their own: spread the
			// forms over many, or workers would queue on one row's lock.
			const nconv = 1024
			if _, err := s.Pool().Exec(ctx, `insert into conversations (reference, address, address_hash)
				select 'NCL-BENC-' || g, address, address_hash from conversations, generate_series(1, $1) g`, nconv); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			parallel(b, conns, func(i int64) {
				if i > pre {
					b.Fatal("benchmark ran past its prepared ledger rows")
				}
				nhs := fmt.Sprintf("%010d", 1000000000+i)
				res, err := s.CompleteMessage(ctx, formOutcome(first+i-1, conv.ID+1+i%nconv, nhs))
				if err != nil || res.Submissions[0].Status != vocab.StatusAccepted {
					b.Errorf("CompleteMessage = %v", err)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// BenchmarkRawInsertCommit is the floor: one one-row INSERT and COMMIT.
func BenchmarkRawInsertCommit(b *testing.B) {
	for _, conns := range benchConns {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			s := newStore(b, int32(conns))
			ctx := context.Background()
			if _, err := s.Pool().Exec(ctx, `create table raw_bench (id bigint generated always as identity primary key, v text not null)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			parallel(b, conns, func(i int64) {
				tx, err := s.Pool().Begin(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := tx.Exec(ctx, `insert into raw_bench (v) values ($1)`, "x"); err != nil {
					b.Error(err)
				}
				if err := tx.Commit(ctx); err != nil {
					b.Error(err)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
