package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// idBlocks hands out conversation and submission ids drawn from their
// sequences in blocks, so CompleteMessage knows them before its one round
// trip instead of asking for them inside the transaction. Unused ids are
// gaps, as a rolled-back nextval leaves; a block is dropped after
// idBlockAge so ids stay roughly in time order across replicas.
type idBlocks struct {
	mu            sync.Mutex
	conv, sub     []int64
	convAt, subAt time.Time // when each block was drawn
}

const (
	idBlock    = 16
	idBlockAge = time.Minute
)

// takeIDs returns a conversation id (0 unless newConv) and n submission ids.
func (s *Store) takeIDs(ctx context.Context, newConv bool, n int) (conv int64, subs []int64, err error) {
	nc := 0
	if newConv {
		nc = 1
	}
	if nc == 0 && n == 0 {
		return 0, nil, nil
	}
	b := &s.ids
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.convAt) > idBlockAge {
		b.conv = nil
	}
	if time.Since(b.subAt) > idBlockAge {
		b.sub = nil
	}
	if len(b.conv) < nc || len(b.sub) < n {
		wantConv, wantSub := 0, 0
		if len(b.conv) < nc {
			wantConv = idBlock
		}
		if len(b.sub) < n {
			wantSub = max(idBlock, n)
		}
		var convs, sub []int64
		// The sequences are the identity columns' own, named by PostgreSQL.
		err := s.pool.QueryRow(ctx, `select array(select nextval('conversations_id_seq') from generate_series(1, $1)),
			array(select nextval('submissions_id_seq') from generate_series(1, $2))`, wantConv, wantSub).Scan(&convs, &sub)
		if err != nil {
			return 0, nil, fmt.Errorf("draw conversation and submission ids: %w", err)
		}
		now := time.Now()
		if wantConv > 0 {
			b.conv, b.convAt = convs, now
		}
		if wantSub > 0 {
			b.sub, b.subAt = sub, now
		}
	}
	if nc == 1 {
		conv, b.conv = b.conv[0], b.conv[1:]
	}
	subs = make([]int64, n)
	copy(subs, b.sub[:n])
	b.sub = b.sub[n:]
	return conv, subs, nil
}
