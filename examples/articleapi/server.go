package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"

	"github.com/bulwarkdb/bulwark/articles"
	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/httpgate"
)

// maxRequestBytes bounds a request body: an article's body (1 MiB) with
// room for JSON escaping and the other fields.
const maxRequestBytes = 3 << 20

// Codes of the example's own invalid-input errors.
const (
	codeInvalidID   = "invalid_id"
	codeInvalidJSON = "invalid_json"
)

// AuthenticateFunc returns the principal a request acts as, or an error
// when the request proves no identity. It is the service's business, not
// bulwark's: the gate trusts the id it is given, within the binding of
// the database login (see README, "The core").
type AuthenticateFunc func(r *http.Request) (uuid.UUID, error)

// server is the article workflow over HTTP: one handler per operation,
// each a thin translation of headers and JSON into an articles.Service
// call and of its result or error into a response.
type server struct {
	authenticate AuthenticateFunc
	problems     *httpgate.ProblemOpts
	svc          *articles.Service
}

// newHandler returns the service's routes, with a correlation id on every
// request:
//
//	POST  /articles                 create a draft            201, Location, ETag
//	GET   /articles/{id}            read one                  200, ETag
//	PATCH /articles/{id}            edit a draft              200, ETag   (If-Match, Idempotency-Key)
//	POST  /articles/{id}/{action}   submit, request-changes,  200, ETag   (If-Match, Idempotency-Key)
//	                                approve, withdraw, publish, archive
//
// Every failure is an application/problem+json answer from httpgate.
func newHandler(svc *articles.Service, authenticate AuthenticateFunc, problems *httpgate.ProblemOpts) http.Handler {
	s := &server{authenticate: authenticate, problems: problems, svc: svc}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /articles", s.create)
	mux.HandleFunc("GET /articles/{id}", s.get)
	mux.HandleFunc("PATCH /articles/{id}", s.edit)
	mux.HandleFunc("POST /articles/{id}/{action}", s.move)
	return httpgate.Correlate(mux)
}

// transition is one of the service's workflow methods.
type transition func(ctx context.Context, actor uuid.UUID, req articles.TransitionRequest, opts *authz.DoOpts) (articles.Article, error)

// transitions maps the path's action to the service's method, or nil.
func (s *server) transitions(action string) transition {
	switch action {
	case "approve":
		return s.svc.Approve
	case "archive":
		return s.svc.Archive
	case "publish":
		return s.svc.Publish
	case "request-changes":
		return s.svc.RequestChanges
	case "submit":
		return s.svc.Submit
	case "withdraw":
		return s.svc.Withdraw
	}
	return nil
}

type createBody struct {
	Body  string `json:"body"`
	Title string `json:"title"`
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	var body createBody
	key, err := httpgate.IdempotencyKey(r)
	if err == nil {
		err = decode(w, r, &body)
	}
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	a, err := s.svc.Create(r.Context(), actor, articles.CreateRequest{Body: body.Body, IdemKey: key, Title: body.Title}, nil)
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	w.Header().Set("Location", "/articles/"+a.ID.String())
	s.respond(w, http.StatusCreated, a)
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	id, err := pathID(r)
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	a, err := s.svc.Get(r.Context(), actor, id)
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	s.respond(w, http.StatusOK, a)
}

// editBody is a partial update: an absent field keeps its value.
type editBody struct {
	Body    *string `json:"body"`
	Slug    *string `json:"slug"`
	Summary *string `json:"summary"`
	Title   *string `json:"title"`
}

func (s *server) edit(w http.ResponseWriter, r *http.Request) {
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	var body editBody
	req, err := s.mutation(w, r, &body)
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	a, err := s.svc.Edit(r.Context(), actor, articles.EditRequest{
		ID:              req.ID,
		Body:            body.Body,
		ExpectedVersion: req.ExpectedVersion,
		IdemKey:         req.IdemKey,
		Slug:            body.Slug,
		Summary:         body.Summary,
		Title:           body.Title,
	}, nil)
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	s.respond(w, http.StatusOK, a)
}

type transitionBody struct {
	Note string `json:"note"`
}

func (s *server) move(w http.ResponseWriter, r *http.Request) {
	act := s.transitions(r.PathValue("action"))
	if act == nil {
		http.NotFound(w, r)
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	var body transitionBody
	req, err := s.mutation(w, r, &body)
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	a, err := act(r.Context(), actor, articles.TransitionRequest{
		ID:              req.ID,
		ExpectedVersion: req.ExpectedVersion,
		IdemKey:         req.IdemKey,
		Note:            body.Note,
	}, nil)
	if err != nil {
		httpgate.WriteError(w, r, err, s.problems)
		return
	}
	s.respond(w, http.StatusOK, a)
}

// mutationHeaders is what every change reads besides its body: the target,
// the version the client based it on (If-Match) and its idempotency key.
type mutationHeaders struct {
	ExpectedVersion int32
	ID              uuid.UUID
	IdemKey         string
}

// mutation reads the target and the headers of a change, then its body
// (optional: an empty body leaves into at its zero value).
func (s *server) mutation(w http.ResponseWriter, r *http.Request, into any) (mutationHeaders, error) {
	var m mutationHeaders
	var err error
	if m.ID, err = pathID(r); err != nil {
		return m, err
	}
	if m.ExpectedVersion, err = httpgate.IfMatch(r); err != nil {
		return m, err
	}
	if m.IdemKey, err = httpgate.IdempotencyKey(r); err != nil {
		return m, err
	}
	return m, decodeOptional(w, r, into)
}

// actor authenticates r, answering 401 itself when it cannot.
func (s *server) actor(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := s.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="articles"`)
		httpgate.WriteProblem(w, &httpgate.Problem{
			Type:          s.problemType("unauthenticated"),
			Title:         "Unauthenticated",
			Status:        http.StatusUnauthorized,
			Detail:        "send Authorization: Bearer <token>",
			Code:          "unauthenticated",
			CorrelationID: authz.CorrelationID(r.Context()),
		})
		return uuid.Nil, false
	}
	return id, true
}

func (s *server) problemType(code string) string {
	base := httpgate.DefaultTypeBase
	if s.problems != nil && s.problems.TypeBase != "" {
		base = s.problems.TypeBase
	}
	return base + code
}

// respond writes an article with its version as the ETag.
func (s *server) respond(w http.ResponseWriter, status int, a articles.Article) {
	httpgate.SetETag(w, a.Version)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The client may be gone; the change is committed either way.
	_ = json.NewEncoder(w).Encode(a)
}

func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil || id == uuid.Nil {
		return uuid.Nil, authz.Invalid(codeInvalidID, "the path must name an article by its UUID")
	}
	return id, nil
}

// decode reads one JSON object into into, refusing unknown fields, more
// than one value and bodies over maxRequestBytes.
func decode(w http.ResponseWriter, r *http.Request, into any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return invalidJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return authz.Invalid(codeInvalidJSON, "the body must be one JSON object")
	}
	return nil
}

// decodeOptional is decode for bodies that may be empty, whether the
// request says so (Content-Length: 0) or sends an empty chunked body.
func decodeOptional(w http.ResponseWriter, r *http.Request, into any) error {
	if r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return invalidJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return authz.Invalid(codeInvalidJSON, "the body must be one JSON object")
	}
	return nil
}

func invalidJSON(err error) error {
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	reason := "the body is not the JSON object this operation takes"
	switch {
	case errors.As(err, &tooLarge):
		reason = fmt.Sprintf("the body is larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		reason = "the body is empty: send a JSON object"
	case errors.As(err, &syntax):
		reason = fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typeErr):
		reason = fmt.Sprintf("field %s must be a %s", typeErr.Field, typeErr.Type)
	default:
		// An unknown field: encoding/json has no type for it, and its
		// message (Go's own, naming the caller's field) says which.
		reason += ": " + err.Error()
	}
	e := authz.Invalid(codeInvalidJSON, reason)
	e.Cause = err
	return e
}
