package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-news/parley/internal/alert"
	"github.com/parley-news/parley/internal/events"
	"github.com/parley-news/parley/internal/httpapi"
	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/webhook"
)

// maxBody bounds a subscription request.
const maxBody = 64 << 10

// The write rate per client address: a burst, then one a second.
const (
	writeRate  = 1.0
	writeBurst = 20
)

// Register adds the subscription endpoints to mux: writes behind the
// token, reads open (a subscription's id is unguessable, and its secret
// is never shown again).
func (s *Service) Register(mux *http.ServeMux) {
	// Each subscription costs a consumer on every replica: writes are
	// rate-limited per client as well as guarded.
	tok := func(h http.HandlerFunc) http.Handler {
		return httpapi.RequireToken(s.cfg.Token, httpapi.RateLimit(writeRate, writeBurst, h))
	}
	mux.Handle("POST /v1/subscriptions", tok(s.postSubscription))
	// Every id is the key to its subscription: the list is for whoever
	// holds the token, and there is none without one.
	mux.Handle("GET /v1/subscriptions", httpapi.RequireToken(s.cfg.Token, http.HandlerFunc(s.getSubscriptions)))
	mux.HandleFunc("GET /v1/subscriptions/{id}", s.getSubscription)
	mux.Handle("DELETE /v1/subscriptions/{id}", tok(s.deleteSubscription))
	mux.HandleFunc("GET /v1/subscriptions/{id}/dead", s.getDead)
	mux.Handle("POST /v1/subscriptions/{id}/redeliver", tok(s.postRedeliver))
	mux.Handle("POST /v1/subscriptions/{id}/rotate", tok(s.postRotate))
}

// Request is the body of POST /v1/subscriptions.
type Request struct {
	URL         string       `json:"url"`
	Filter      alert.Filter `json:"filter"`
	Description string       `json:"description"`
}

// View is a subscription as the endpoints show it.
type View struct {
	alert.Subscription
	// MetricsLabel is the subscription's label in /metrics.
	MetricsLabel string      `json:"metrics_label"`
	Status       *StatusView `json:"status,omitempty"`
}

// newView is how the endpoints show sub (whose secrets the caller has
// left in or out) with its status.
func newView(sub alert.Subscription, st *StatusView) View {
	sub.Stream, sub.AfterAt = "", time.Time{} // the matcher's, not the receiver's
	return View{Subscription: sub, MetricsLabel: alert.MetricsLabel(sub.ID), Status: st}
}

// StatusView is the delivery status with the counts only NATS knows:
// alerts waiting (backlog) and dead. They are absent when NATS did not
// answer.
type StatusView struct {
	alert.Status
	Backlog *uint64 `json:"backlog,omitempty"`
	Dead    *uint64 `json:"dead,omitempty"`
}

// maxRequestDepth bounds the nesting of a subscription request: an
// object, its filter, a list.
const maxRequestDepth = 4

// DecodeRequest reads the body of POST /v1/subscriptions: one JSON object
// of known fields, each given once and spelled as documented, as events
// are read; a *alert.FieldError names what is wrong with it.
func DecodeRequest(body []byte) (Request, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Request{}, &alert.FieldError{Field: "body", Reason: "empty: send the subscription as a JSON object"}
	}
	if fe := events.CheckJSONShape[Request](body, maxRequestDepth); fe != nil {
		return Request{}, &alert.FieldError{Field: orBody(fe.Field), Reason: fe.Reason}
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fe := events.JSONFieldError(err, body)
		return Request{}, &alert.FieldError{Field: orBody(fe.Field), Value: fe.Value, Reason: fe.Reason}
	}
	if dec.More() {
		return Request{}, &alert.FieldError{Field: "body", Reason: "more than one JSON value: send one subscription object"}
	}
	return req, nil
}

// orBody names the field at fault, or the whole body when it is none.
func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

// Validate checks a request without side effects: the URL against the
// guard (literal addresses; the dial checks again), the filter against the
// vocabulary, the description's length.
func (req Request) Validate(guard webhook.Guard, v *events.Vocabulary) error {
	if strings.TrimSpace(req.URL) == "" {
		return &alert.FieldError{Field: "url", Reason: "required"}
	}
	if err := guard.CheckURL(req.URL); err != nil {
		return &alert.FieldError{Field: "url", Value: req.URL, Reason: err.Error()}
	}
	if err := req.Filter.Validate(v); err != nil {
		return err
	}
	if len(req.Description) > alert.MaxDescription {
		return &alert.FieldError{Field: "description", Reason: fmt.Sprintf("longer than %d bytes", alert.MaxDescription)}
	}
	return nil
}

// Create creates a subscription from a request and returns it with its
// secret, once every replica can see it here.
func (s *Service) Create(ctx context.Context, req Request) (*alert.Subscription, error) {
	if err := req.Validate(s.sender.Guard(), s.cfg.Vocabulary); err != nil {
		return nil, err
	}
	if n := s.reg.count(); n >= s.cfg.MaxSubscriptions {
		return nil, fmt.Errorf("%w (%d)", ErrTooMany, n)
	}
	head, err := s.conn.State(ctx)
	if err != nil {
		return nil, fmt.Errorf("create subscription: %w", err)
	}
	sub := &alert.Subscription{
		ID: alert.NewID(), URL: req.URL, Filter: req.Filter, Description: req.Description,
		CreatedAt: s.cfg.Now().UTC().Truncate(time.Second), After: head.LastSeq, Secret: webhook.NewSecret(),
		Stream: head.ID, AfterAt: head.LastTime.UTC(),
	}
	b, err := json.Marshal(sub)
	if err != nil {
		return nil, err
	}
	rev, err := s.kv.Create(ctx, subKey(sub.ID), b)
	if err != nil {
		return nil, fmt.Errorf("create subscription: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.reg.waitFor(wctx, rev, nil); err != nil {
		// The answer is the only place the secret is shown: kept, the
		// subscription would deliver alerts nobody can verify, and the
		// caller's retry would make a second. An error leaves nothing.
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer ucancel()
		if rerr := s.remove(uctx, sub.ID); rerr != nil {
			return nil, fmt.Errorf("create subscription: not applied here: %w; and not undone: %v", err, rerr)
		}
		return nil, fmt.Errorf("create subscription: not applied here, so not made: %w", err)
	}
	return sub, nil
}

// ErrRotatedMeanwhile is returned when another rotation of the same
// secret came first.
var ErrRotatedMeanwhile = errors.New("the secret was rotated by another request meanwhile: ask again")

// Rotate gives a subscription a new secret and returns the subscription
// with it, once every replica can see it here. The old secret signs the
// deliveries too, beside the new one, for SecretOverlap, so that a
// receiver can switch without refusing an alert; a second rotation within
// that time retires the first secret at once.
func (s *Service) Rotate(ctx context.Context, id string) (*alert.Subscription, error) {
	switch sub, active := s.reg.active(id); {
	case sub == nil:
		return nil, errNoSubscription
	case !active:
		return nil, ErrDisabled
	}
	e, err := s.kv.Get(ctx, subKey(id))
	if isNotFound(err) {
		return nil, errNoSubscription
	}
	if err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	var sub alert.Subscription
	if err := json.Unmarshal(e.Value(), &sub); err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	until := s.cfg.Now().UTC().Add(s.cfg.SecretOverlap).Truncate(time.Second)
	sub.PreviousSecret, sub.PreviousUntil, sub.Secret = sub.Secret, &until, webhook.NewSecret()
	b, err := json.Marshal(sub)
	if err != nil {
		return nil, err
	}
	rev, err := s.kv.Update(ctx, subKey(id), b, e.Revision())
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil, ErrRotatedMeanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.reg.waitFor(wctx, rev, nil); err != nil {
		return nil, fmt.Errorf("rotate secret: not applied here: %w", err)
	}
	return &sub, nil
}

func (s *Service) postRotate(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok || !noParams(w, r) {
		return
	}
	sub, err := s.Rotate(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := *sub
	v.PreviousSecret = "" // shown once, when it was made
	writeJSON(w, http.StatusOK, newView(v, nil))
}

func (s *Service) postSubscription(w http.ResponseWriter, r *http.Request) {
	if !noParams(w, r) {
		return
	}
	body, ok := httpapi.ReadBody(w, r, maxBody, "no subscription was made")
	if !ok {
		return
	}
	if err := httpapi.RequireJSON(r); err != nil {
		writeJSON(w, http.StatusUnsupportedMediaType, httpapi.Problem{Error: err.Error()})
		return
	}
	req, err := DecodeRequest(body)
	var fe *alert.FieldError
	if errors.As(err, &fe) {
		s.writeError(w, r, err)
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, httpapi.Problem{Error: err.Error()})
		return
	}
	sub, err := s.Create(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/subscriptions/"+sub.ID)
	writeJSON(w, http.StatusCreated, newView(*sub, &StatusView{Status: alert.Status{State: alert.StateActive}}))
}

func (s *Service) getSubscription(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok || !noParams(w, r) {
		return
	}
	sub, st, err := s.reg.get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sv := &StatusView{Status: *st}
	if backlog, dead, err := s.counts(r.Context(), id); err == nil {
		sv.Backlog, sv.Dead = &backlog, &dead
	} else {
		s.log.Warn("cannot count alerts", "subscription", id, "err", err)
	}
	writeJSON(w, http.StatusOK, newView(sub.View(), sv))
}

// getSubscriptions lists the subscriptions, oldest first, with their
// status but not the counts NATS keeps (GET one for those).
func (s *Service) getSubscriptions(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Token == "" {
		writeJSON(w, http.StatusForbidden, httpapi.Problem{Error: "listing subscriptions needs an API token (-api-token or PARLEY_API_TOKEN): each id gives access to its subscription"})
		return
	}
	if !noParams(w, r) {
		return
	}
	subs, err := s.reg.list(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(subs), "subscriptions": subs})
}

func (s *Service) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok || !noParams(w, r) {
		return
	}
	if err := s.remove(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deadAnswer is the body of GET /v1/subscriptions/{id}/dead.
type deadAnswer struct {
	Subscription string      `json:"subscription"`
	Count        int         `json:"count"`
	Dead         []DeadAlert `json:"dead"`
	// NextCursor asks for the next page, when there is one.
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Service) getDead(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok {
		return
	}
	p := httpapi.RequestParams(r)
	p.Only("limit", "cursor")
	limit := p.Count("limit", 100, MaxDeadList)
	from := uint64(1)
	// Single: a cursor given twice or empty is refused, not read as the
	// first page.
	if c := p.Single("cursor"); c != "" {
		// The dead list's position where the page starts, as the page
		// before gave it.
		n, err := strconv.ParseUint(c, 10, 64)
		if err != nil || n == 0 {
			p.Fail("cursor", c, "not a cursor this service gave (next_cursor)")
		}
		from = n
	}
	if p.Err != nil {
		writeJSON(w, http.StatusBadRequest, httpapi.Problem{Error: p.Err.Error(), Param: p.Err.Param})
		return
	}
	dead, next, err := s.Dead(r.Context(), id, from, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ans := deadAnswer{Subscription: id, Count: len(dead), Dead: dead}
	if next != 0 {
		ans.NextCursor = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Service) postRedeliver(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathID(w, r)
	if !ok || !noParams(w, r) {
		return
	}
	n, err := s.Redeliver(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"subscription": id, "redelivered": n})
}

// writeError answers with the status that fits err: 400 naming the field,
// 404, 409 for a disabled subscription or one too many, 500 otherwise
// (logged).
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *alert.FieldError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, httpapi.Problem{Error: fe.Error(), Param: fe.Field})
	case errors.Is(err, projections.ErrNotFound):
		writeJSON(w, http.StatusNotFound, httpapi.Problem{Error: "no such subscription"})
	case errors.Is(err, ErrDisabled), errors.Is(err, ErrTooMany), errors.Is(err, ErrRotatedMeanwhile):
		writeJSON(w, http.StatusConflict, httpapi.Problem{Error: err.Error()})
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, httpapi.Problem{Error: "internal error"})
	}
}

// pathID is the subscription id of the request's path; a malformed one
// is answered 404, as an unknown one is, and never reaches a NATS subject.
func (s *Service) pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !alert.ValidID(id) {
		s.writeError(w, r, errNoSubscription)
		return "", false
	}
	return id, true
}

// noParams answers 400 when the request has a query parameter: the
// endpoint takes none, and a guess such as ?dry_run=1 or ?force=1 would
// otherwise go ahead for real without a word.
func noParams(w http.ResponseWriter, r *http.Request) bool {
	p := httpapi.RequestParams(r)
	p.Only()
	if p.Err != nil {
		writeJSON(w, http.StatusBadRequest, httpapi.Problem{Error: p.Err.Error(), Param: p.Err.Param})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
