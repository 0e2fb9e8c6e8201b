package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"
)

// auditCanonical is the canonical content of an audit row that its chain
// hash covers, byte for byte what the database's audit_canonical function
// returns (migration 006): each field on its own line, text fields prefixed
// with their length in bytes, the time in UTC to the microsecond.
func auditCanonical(seq, id int64, at time.Time, actor, action, objectType string, objectID *int64, reference, detail string) []byte {
	var b bytes.Buffer
	field := func(v string) {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	b.WriteString(strconv.FormatInt(seq, 10))
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(id, 10))
	b.WriteByte('\n')
	b.WriteString(at.UTC().Format("2006-01-02T15:04:05.000000Z"))
	b.WriteByte('\n')
	field(actor)
	b.WriteByte('\n')
	field(action)
	b.WriteByte('\n')
	field(objectType)
	b.WriteByte('\n')
	if objectID != nil {
		b.WriteString(strconv.FormatInt(*objectID, 10))
	}
	b.WriteByte('\n')
	field(reference)
	b.WriteByte('\n')
	field(detail)
	return b.Bytes()
}

// AuditBreak is the first link of the audit chain that does not hold.
type AuditBreak struct {
	Seq     int64  // the row's place in the chain (0 when it has none)
	ID      int64  // the row's id (0 when the break is a missing row or the head)
	Problem string // what is wrong, in words
}

// AuditCheck is what VerifyAudit found.
type AuditCheck struct {
	Rows  int64       // rows checked
	Break *AuditBreak // nil when the whole chain holds
}

// VerifyAudit recomputes the audit chain in row order and reports the first
// row whose hash, previous hash or place does not match: a row changed,
// deleted or inserted around the trigger after it was written (even by the
// tables' owner) shows here. It reads the rows as they stand and trusts
// nothing the database computed.
func (s *Store) VerifyAudit(ctx context.Context) (AuditCheck, error) {
	var res AuditCheck
	var unchained, firstUnchained int64
	if err := s.pool.QueryRow(ctx, `select count(*), coalesce(min(id), 0) from audit where chain_seq is null`).Scan(&unchained, &firstUnchained); err != nil {
		return res, fmt.Errorf("verify audit chain: %w", err)
	}
	rows, err := s.pool.Query(ctx, `select chain_seq, id, at, actor, action, object_type, object_id, reference, detail, prev_hash, hash
		from audit where chain_seq is not null order by chain_seq`)
	if err != nil {
		return res, fmt.Errorf("verify audit chain: %w", err)
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	var seq, id int64
	var at time.Time
	var actor, action, objectType, reference, detail string
	var objectID *int64
	var prevHash, hash []byte
	for rows.Next() {
		if err := rows.Scan(&seq, &id, &at, &actor, &action, &objectType, &objectID, &reference, &detail, &prevHash, &hash); err != nil {
			return res, fmt.Errorf("verify audit chain: %w", err)
		}
		want := res.Rows + 1
		res.Rows++
		switch {
		case seq != want:
			res.Break = &AuditBreak{Seq: want, Problem: fmt.Sprintf("row %d of the chain is missing (the next one is row %d, id %d)", want, seq, id)}
		case !bytes.Equal(prevHash, prev):
			res.Break = &AuditBreak{Seq: seq, ID: id, Problem: "its previous hash is not the hash of the row before it"}
		default:
			h := sha256.New()
			h.Write(prev)
			h.Write(auditCanonical(seq, id, at, actor, action, objectType, objectID, reference, detail))
			sum := h.Sum(nil)
			if !bytes.Equal(sum, hash) {
				res.Break = &AuditBreak{Seq: seq, ID: id, Problem: "its content does not match its hash (the row was changed)"}
			}
			prev = sum
		}
		if res.Break != nil {
			rows.Close()
			return res, nil
		}
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("verify audit chain: %w", err)
	}
	var headSeq int64
	var headHash []byte
	if err := s.pool.QueryRow(ctx, `select seq, hash from audit_chain`).Scan(&headSeq, &headHash); err != nil {
		return res, fmt.Errorf("verify audit chain: read its head: %w", err)
	}
	if headSeq != res.Rows || !bytes.Equal(headHash, prev) {
		res.Break = &AuditBreak{Seq: res.Rows + 1, Problem: fmt.Sprintf("the chain's head says %d rows but %d were found: rows at the end were deleted", headSeq, res.Rows)}
		return res, nil
	}
	if unchained > 0 {
		res.Break = &AuditBreak{ID: firstUnchained, Problem: fmt.Sprintf("%d rows are outside the chain (inserted with its trigger disabled)", unchained)}
	}
	return res, nil
}

// AuditSearch records a staff search on the "find a person" page, found or
// not: a reference code as the entry's reference, an NHS number only as a
// prefix of its keyed blind index (enough to answer "did anyone look for
// this number?" with the key, and nothing without it).
func (s *Store) AuditSearch(ctx context.Context, actor Actor, query string, results int) error {
	e := AuditEntry{Actor: actor, Action: "people.search", ObjectType: "search"}
	if ref, ok := FindReference(query); ok {
		e.Reference, e.Detail = ref, fmt.Sprintf("kind=reference results=%d", results)
	} else if idx := s.keys.NHSIndex(query); idx != nil {
		e.Detail = fmt.Sprintf("kind=nhs_number nhs_index=%x results=%d", idx[:8], results)
	} else {
		e.Detail = fmt.Sprintf("kind=other results=%d", results)
	}
	return s.WriteAudit(ctx, e)
}
