package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Snippet is a standard passage for staff replies, kept by admins. It
// holds no personal data (it is the same for every resident).
type Snippet struct {
	ID        int64
	Title     string
	Body      string
	UpdatedBy int64
	UpdatedAt time.Time
}

// Limits of a snippet.
const (
	MaxSnippetTitleRunes = 100
	MaxSnippetBodyRunes  = 5000
)

// ErrBadSnippet is returned for a snippet whose title or text is empty or too long.
var ErrBadSnippet = fmt.Errorf("a snippet needs a title of 1 to %d characters and a text of 1 to %d characters", MaxSnippetTitleRunes, MaxSnippetBodyRunes)

func checkSnippet(title, body string) (string, string, error) {
	title, body = strings.TrimSpace(title), strings.TrimSpace(body)
	if title == "" || body == "" || utf8.RuneCountInString(title) > MaxSnippetTitleRunes || utf8.RuneCountInString(body) > MaxSnippetBodyRunes {
		return title, body, ErrBadSnippet
	}
	return title, body, nil
}

// Snippets lists the snippets by title.
func (s *Store) Snippets(ctx context.Context) ([]Snippet, error) {
	rows, err := s.pool.Query(ctx, `select id, title, body, updated_by, updated_at from reply_snippets order by title, id`)
	if err != nil {
		return nil, fmt.Errorf("list snippets: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Snippet])
	if err != nil {
		return nil, fmt.Errorf("list snippets: %w", err)
	}
	return out, nil
}

// Snippet returns one snippet; ErrNotFound when there is none.
func (s *Store) Snippet(ctx context.Context, id int64) (Snippet, error) {
	rows, err := s.pool.Query(ctx, `select id, title, body, updated_by, updated_at from reply_snippets where id = $1`, id)
	if err != nil {
		return Snippet{}, fmt.Errorf("read snippet %d: %w", id, err)
	}
	sn, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Snippet])
	if errors.Is(err, pgx.ErrNoRows) {
		return sn, fmt.Errorf("snippet %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return sn, fmt.Errorf("read snippet %d: %w", id, err)
	}
	return sn, nil
}

// SaveSnippet adds a snippet (id 0) or changes one, audited; it returns
// its id. ErrBadSnippet for an empty or too long title or text.
func (s *Store) SaveSnippet(ctx context.Context, id int64, title, body string, actor Actor) (int64, error) {
	title, body, err := checkSnippet(title, body)
	if err != nil {
		return 0, err
	}
	if actor == System {
		return 0, errors.New("save snippet: a staff actor is required")
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		action := "snippet.change"
		if id == 0 {
			action = "snippet.add"
			err = tx.QueryRow(ctx, `insert into reply_snippets (title, body, updated_by) values ($1, $2, $3) returning id`, title, body, int64(actor)).Scan(&id)
		} else {
			err = tx.QueryRow(ctx, `update reply_snippets set title = $2, body = $3, updated_by = $4, updated_at = now() where id = $1 returning id`,
				id, title, body, int64(actor)).Scan(&id)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("snippet %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("save snippet: %w", err)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: action, ObjectType: "snippet", ObjectID: id})
	})
	return id, err
}

// DeleteSnippet deletes a snippet, audited.
func (s *Store) DeleteSnippet(ctx context.Context, id int64, actor Actor) error {
	if actor == System {
		return errors.New("delete snippet: a staff actor is required")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `delete from reply_snippets where id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete snippet %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("snippet %d: %w", id, ErrNotFound)
		}
		return writeAudit(ctx, tx, AuditEntry{Actor: actor, Action: "snippet.delete", ObjectType: "snippet", ObjectID: id})
	})
}
