package settlement

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"minipay/shared/edge/httpapi"
	"minipay/shared/kernel/ddb"
	"minipay/shared/kernel/domainerr"
	"minipay/shared/kernel/ledger"
)

// Participant is one share as the API shows it.
type Participant struct {
	UserID string `json:"userId"`
	Amount int64  `json:"amount"`
	// Status is open, paid, declined or cancelled (an open share of a
	// cancelled request).
	Status string `json:"status"`
	// Self marks the requester's own share, settled at creation.
	Self        bool      `json:"self,omitempty"`
	PaidAt      time.Time `json:"paidAt,omitzero"`
	MovementID  string    `json:"movementId,omitempty"`
	AutoCharged int64     `json:"autoCharged,omitempty"`
	DeclinedAt  time.Time `json:"declinedAt,omitzero"`
}

// Settlement is a settlement request as its requester (Participants) or a
// participant (YourShare) sees it.
type Settlement struct {
	ID            string    `json:"id"`
	Requester     string    `json:"requester"`
	RequesterName string    `json:"requesterName,omitempty"`
	Total         int64     `json:"total"`
	Split         string    `json:"split"`
	Memo          string    `json:"memo,omitempty"`
	DueAt         time.Time `json:"dueAt,omitzero"`
	CreatedAt     time.Time `json:"createdAt"`
	// Status is open, completed (no share open any more) or cancelled.
	Status      string    `json:"status"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	CancelledAt time.Time `json:"cancelledAt,omitzero"`
	// ParticipantCount is the number of shares, the requester's own
	// included; the counts below count the shares by status and sum to it
	// (the requester's own share is paid from the start; cancelled are
	// the shares a cancellation found open).
	ParticipantCount int   `json:"participantCount"`
	OpenCount        int64 `json:"openCount"`
	PaidCount        int64 `json:"paidCount"`
	DeclinedCount    int64 `json:"declinedCount"`
	CancelledCount   int64 `json:"cancelledCount"`
	// Collected is what participants paid into the requester's account
	// (the requester's own share moves nothing, so it is not in it);
	// Outstanding the open shares' sum.
	Collected    int64         `json:"collected"`
	Outstanding  int64         `json:"outstanding"`
	Participants []Participant `json:"participants,omitempty"`
	YourShare    *Participant  `json:"yourShare,omitempty"`
}

// loaded is everything stored under one settlement.
type loaded struct {
	st     state
	plan   plan
	shares map[string]share
}

// load reads a settlement's items: ONE strongly consistent Query of its
// partition (the settlement, its plan and at most 100 shares). nil if
// there is no such settlement.
func load(ctx context.Context, d httpapi.Services, sid string) (*loaded, error) {
	l := &loaded{shares: map[string]share{}}
	var seen bool
	var err error
	q := d.Table.Query(&dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkSettlement + sid)},
		ConsistentRead:            aws.Bool(true),
	})
	for err == nil && q.Next(ctx) {
		item := q.Item()
		sk, _ := item[ddb.AttrSK].(*types.AttributeValueMemberS)
		switch {
		case sk == nil:
		case sk.Value == skMeta:
			l.st, err = stateFromItem(item)
			seen = true
		case sk.Value == skPlan:
			l.plan, err = planFromItem(item)
		case strings.HasPrefix(sk.Value, skShare):
			var s share
			if s, err = shareFromItem(item); err == nil {
				l.shares[s.UserID] = s
			}
		}
	}
	if err == nil {
		err = q.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("settlement %s: load: %w", sid, err)
	}
	if !seen {
		return nil, nil
	}
	if len(l.plan.Users) == 0 {
		return nil, fmt.Errorf("settlement %s: no plan", sid)
	}
	return l, nil
}

// participant is plan entry i as it stands: its share's status, or (not
// yet written) open; an open share of a cancelled request is cancelled.
func (l *loaded) participant(i int) Participant {
	uid := l.plan.Users[i]
	p := Participant{UserID: uid, Amount: l.plan.Amounts[i], Status: StatusOpen}
	if s, ok := l.shares[uid]; ok {
		p.Status, p.Self, p.PaidAt, p.MovementID, p.AutoCharged, p.DeclinedAt = s.Status, s.Self, s.PaidAt, s.MovementID, s.AutoCharged, s.DeclinedAt
	}
	if p.Status == StatusOpen && l.st.Status == StatusCancelled {
		p.Status = StatusCancelled
	}
	return p
}

// view is the settlement as caller may see it: everything for the
// requester, their own share for a participant; nobody else sees it.
func (l *loaded) view(caller string) (Settlement, bool) {
	st := l.st
	v := Settlement{ID: st.ID, Requester: st.Requester, RequesterName: st.RequesterName, Total: st.Total, Split: st.Split,
		Memo: st.Memo, DueAt: st.DueAt, CreatedAt: st.CreatedAt, Status: st.Status, CompletedAt: st.CompletedAt,
		CancelledAt: st.CancelledAt, ParticipantCount: len(l.plan.Users), OpenCount: st.Open, PaidCount: st.Paid,
		DeclinedCount: st.Declined, Collected: st.Collected}
	if st.Status == StatusCancelled {
		v.OpenCount, v.CancelledCount = 0, st.Open
	}
	mine := -1
	for i, uid := range l.plan.Users {
		p := l.participant(i)
		if p.Status == StatusOpen {
			v.Outstanding += p.Amount
		}
		if caller == st.Requester {
			v.Participants = append(v.Participants, p)
		}
		if uid == caller {
			mine = i
		}
	}
	switch {
	case caller == st.Requester:
		return v, true
	case mine >= 0:
		p := l.participant(mine)
		v.YourShare = &p
		return v, true
	}
	return Settlement{}, false
}

// pathSettlement is the settlement the request's path names ({id}) and
// the 404 that answers for it ("you have no settlement <id>" and what
// follows); err is that 404 already when the id cannot be a settlement's.
func pathSettlement(r *httpapi.Request, follows string) (sid string, notFound, err error) {
	sid = r.PathParam("id")
	notFound = ErrNotFound.With("you have no settlement %s%s", sid, follows)
	if !ValidID(sid) {
		return sid, notFound, notFound
	}
	return sid, notFound, nil
}

// Get is GET /settlements/{id}: the requester's view (every participant's
// status and amount, the amount collected) or a participant's (their
// share). One Query.
func Get(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "get-settlement", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		sid, notFound, err := pathSettlement(r, "")
		if err != nil {
			return nil, err
		}
		l, err := load(ctx, d, sid)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, notFound
		}
		v, ok := l.view(r.Caller)
		if !ok {
			return nil, notFound
		}
		return httpapi.JSON(http.StatusOK, v)
	})
}

// Summary is one list entry.
type Summary struct {
	ID            string `json:"id"`
	Requester     string `json:"requester"`
	RequesterName string `json:"requesterName,omitempty"`
	Total         int64  `json:"total"`
	// Amount is the caller's share (role=received).
	Amount           int64     `json:"amount,omitempty"`
	Memo             string    `json:"memo,omitempty"`
	DueAt            time.Time `json:"dueAt,omitzero"`
	CreatedAt        time.Time `json:"createdAt"`
	ParticipantCount int64     `json:"participantCount"`
	// Status is the share's (role=received) or the request's (role=requested).
	Status     string    `json:"status"`
	ResolvedAt time.Time `json:"resolvedAt,omitzero"`
}

// SummaryList is a page of GET /settlements.
type SummaryList struct {
	Settlements []Summary `json:"settlements"`
	NextCursor  string    `json:"nextCursor,omitempty"`
}

// List is GET /settlements?role=received|requested&status=&limit=&cursor=:
// the requests addressed to me (by my share's status: open, paid,
// declined, cancelled) or those I made (by their status: open, completed,
// cancelled), newest first, one Query per page.
func List(d httpapi.Services) httpapi.LambdaHandler {
	return httpapi.Handle(d, "list-settlements", func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		role, ok := httpapi.QueryIn(r, "role", RoleReceived, RoleReceived, RoleRequested)
		if !ok {
			return nil, domainerr.Field("role", "role must be %s or %s", RoleReceived, RoleRequested)
		}
		prefix, statuses := skIn, ShareStatuses
		if role == RoleRequested {
			prefix, statuses = skOut, RequestStatuses
		}
		status, ok := httpapi.QueryIn(r, "status", StatusOpen, statuses...)
		if !ok {
			return nil, domainerr.Field("status", "with role=%s, status must be one of %v", role, statuses)
		}
		page, err := httpapi.Page(r)
		if err != nil {
			return nil, err
		}
		prefix += status + "#"
		items, next, err := d.Table.QueryPage(ctx, ddb.Listing{
			Name: "settlements", Bind: []string{r.Caller, role, status}, PartitionAttr: ddb.AttrPK, Partition: ledger.UserPK(r.Caller),
			Lower: prefix, Upper: prefix + "~", NewestFirst: true, Now: d.Clock.Now(),
		}, page)
		if err != nil {
			return nil, err
		}
		out := SummaryList{Settlements: make([]Summary, 0, len(items)), NextCursor: next}
		for _, it := range items {
			dec := ddb.Decode(it)
			f := factsFrom(dec)
			s := Summary{ID: f.ID, Requester: f.Requester, RequesterName: f.RequesterName, Total: f.Total, Amount: dec.N("amount"),
				Memo: f.Memo, DueAt: f.DueAt, CreatedAt: f.CreatedAt, ParticipantCount: f.ParticipantCount,
				Status: dec.MustS("status"), ResolvedAt: dec.Time("resolvedAt")}
			if err := dec.Err(); err != nil {
				return nil, err
			}
			out.Settlements = append(out.Settlements, s)
		}
		return httpapi.JSON(http.StatusOK, out)
	})
}
