package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WeekCounts is what happened in one week (Monday to Sunday, London time):
// messages received, forms accepted into the register, items sent to
// triage, items whose answer date fell in the week and were not closed by
// it, and opt back ins. No personal data.
type WeekCounts struct {
	Week      time.Time // the Monday the week starts, midnight London time
	Received  int
	Accepted  int
	Triaged   int
	Overdue   int
	OptedBack int
}

// WeeklyCounts returns the counts of the last weeks weeks up to and
// including the week of now, oldest first, for the staff dashboard. Weeks
// with nothing in them are present with zeros.
func (s *Store) WeeklyCounts(ctx context.Context, weeks int, now time.Time) ([]WeekCounts, error) {
	if weeks <= 0 || weeks > 520 {
		return nil, fmt.Errorf("weekly counts: %d weeks is not between 1 and 520", weeks)
	}
	rows, err := s.pool.Query(ctx, `with
		bounds as (select date_trunc('week', $1::timestamptz at time zone 'Europe/London') as last),
		weeks as (select generate_series(last - ($2::int - 1) * interval '1 week', last, interval '1 week') as wk from bounds),
		since as (select (min(wk) at time zone 'Europe/London') as t0 from weeks),
		rec as (select date_trunc('week', received_at at time zone 'Europe/London') as wk, count(*) as n
			from ledger, since where received_at >= since.t0 group by 1),
		acc as (select date_trunc('week', coalesce(decided_at, created_at) at time zone 'Europe/London') as wk, count(*) as n
			from submissions, since where status = 'accepted' and coalesce(decided_at, created_at) >= since.t0 group by 1),
		tri as (select date_trunc('week', created_at at time zone 'Europe/London') as wk, count(*) as n
			from triage, since where created_at >= since.t0 group by 1),
		ovr as (select date_trunc('week', due_by at time zone 'Europe/London') as wk, count(*) as n
			from triage, since where due_by >= since.t0 and due_by < $1
				and (closed_at > due_by or (state = 'open')) group by 1),
		opt as (select date_trunc('week', h.at at time zone 'Europe/London') as wk, count(*) as n
			from register_history h, since where h.state = 'opted_in' and h.at >= since.t0 group by 1)
		select weeks.wk at time zone 'Europe/London', coalesce(rec.n, 0), coalesce(acc.n, 0), coalesce(tri.n, 0), coalesce(ovr.n, 0), coalesce(opt.n, 0)
		from weeks left join rec using (wk) left join acc using (wk) left join tri using (wk) left join ovr using (wk) left join opt using (wk)
		order by weeks.wk`, now, weeks)
	if err != nil {
		return nil, fmt.Errorf("weekly counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WeekCounts, error) {
		var w WeekCounts
		err := r.Scan(&w.Week, &w.Received, &w.Accepted, &w.Triaged, &w.Overdue, &w.OptedBack)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("weekly counts: %w", err)
	}
	return out, nil
}
