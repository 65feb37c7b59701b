package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// ServerOptions tune NewServer.
type ServerOptions struct {
	// Logger receives one line per request; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Server is the HTTP/JSON face of a local ledger: it authenticates the API key of each
// request, puts its actor into the request's context and calls the backend, which
// enforces every rule (ownership included). The server itself decides nothing about
// money, tags or cards.
type Server struct {
	be       *backend.Local
	log      *slog.Logger
	maxBody  int64
	mux      *http.ServeMux
	patterns []string

	mu       sync.Mutex
	inFlight map[string]struct{} // actor id + "/" + idempotency key of requests running now
}

// NewServer returns the handler of every /v1 route and /healthz, serving backend.
func NewServer(be *backend.Local, opts ServerOptions) *Server {
	s := &Server{
		be:       be,
		log:      opts.Logger,
		maxBody:  opts.MaxBodyBytes,
		mux:      http.NewServeMux(),
		inFlight: map[string]struct{}{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.routes()
	s.mux.HandleFunc("/", s.unrouted)
	return s
}

// Routes lists the registered routes as "METHOD /path" patterns, sorted.
func (s *Server) Routes() []string {
	out := slices.Clone(s.patterns)
	slices.Sort(out)
	return out
}

// requestLog is filled in while a request runs and logged when it ends.
type requestLog struct {
	route  string
	keyID  string
	status int
	err    error
}

type requestLogKey struct{}

// ServeHTTP logs one line per request around the router, and turns a panic of a handler
// into a 500 instead of a dropped connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &requestLog{}
	sw := &statusWriter{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), requestLogKey{}, info))
	defer func() {
		if p := recover(); p != nil {
			info.err = fmt.Errorf("panic: %v", p)
			if sw.status == 0 {
				s.writeError(sw, r, store.Errorf(store.KindInternal, "internal", "handler panicked"))
			}
		}
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("route", info.route),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)),
		}
		if info.keyID != "" {
			attrs = append(attrs, slog.String("key", info.keyID))
		}
		if info.err != nil && sw.status >= 500 {
			attrs = append(attrs, slog.String("error", info.err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()
	if p := r.URL.Path; p == "" || p[0] != '/' || path.Clean(p) != p && path.Clean(p)+"/" != p {
		// The router would redirect to the cleaned path; a path with dot segments or
		// doubled slashes names nothing here, so it is answered as such.
		s.writeError(sw, r, newHTTPError(http.StatusNotFound, store.KindNotFound, "not_found", "path %q names nothing: dot segments and empty segments are not allowed", p))
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// statusWriter remembers the status written, for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// unrouted answers paths no route matches: 405 when another method would, else 404,
// both with a JSON error body like every other answer.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, r, newHTTPError(http.StatusMethodNotAllowed, store.KindNotFound, "method_not_allowed", "%s is not allowed on %s; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or ")))
		return
	}
	s.writeError(w, r, newHTTPError(http.StatusNotFound, store.KindNotFound, "route_not_found", "no route %s %s", r.Method, r.URL.Path))
}

// call is one authenticated request as a handler sees it.
type call struct {
	r       *http.Request
	w       http.ResponseWriter
	ctx     context.Context // carries the actor and the replay flag
	idemKey string          // the Idempotency-Key header, for POST
	maxBody int64
}

// handler answers one route: a value to send as JSON, or an error.
type handler func(c *call) (any, error)

// handle registers fn for "METHOD /path" behind authentication, idempotency bookkeeping
// and JSON rendering.
func (s *Server) handle(method, path string, fn handler) {
	pattern := method + " " + path
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		info, _ := r.Context().Value(requestLogKey{}).(*requestLog)
		if info != nil {
			info.route = pattern
		}
		actor, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tagpay"`)
			s.writeError(w, r, err)
			return
		}
		if info != nil {
			info.keyID = actor.ID
		}
		c := &call{r: r, w: w, ctx: store.WithActor(r.Context(), actor), maxBody: s.maxBody}
		replayed := false
		if method == http.MethodPost {
			c.idemKey = r.Header.Get("Idempotency-Key")
			if err := store.CheckIdempotencyKey(c.idemKey); err != nil {
				s.writeError(w, r, err)
				return
			}
			if c.idemKey != "" {
				slot := actor.ID + "/" + c.idemKey
				if !s.claim(slot) {
					s.writeError(w, r, store.Errorf(store.KindConflict, "idempotency_key_in_use", "idempotency key %q is in use by a request still running; retry when it has finished", c.idemKey).WithParam("idempotency_key"))
					return
				}
				defer s.release(slot)
				c.ctx = store.WithReplayFlag(c.ctx, &replayed)
			}
		}
		out, err := fn(c)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handlePublic registers a route that needs no API key.
func (s *Server) handlePublic(method, path string, fn func(w http.ResponseWriter, r *http.Request)) {
	pattern := method + " " + path
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(requestLogKey{}).(*requestLog); ok {
			info.route = pattern
		}
		fn(w, r)
	})
}

// authenticate reads "Authorization: Bearer <key>" and finds its actor.
func (s *Server) authenticate(r *http.Request) (store.Actor, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return store.Actor{}, store.Errorf(store.KindUnauthorized, "missing_api_key", "no API key given; send Authorization: Bearer <key> (tagpay --token or TAGPAY_TOKEN)")
	}
	scheme, secret, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return store.Actor{}, store.Errorf(store.KindUnauthorized, "malformed_api_key", "the Authorization header must be \"Bearer <key>\"")
	}
	return s.be.Authenticate(r.Context(), strings.TrimSpace(secret))
}


// claim marks slot as running; false when it already is.
func (s *Server) claim(slot string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.inFlight[slot]; busy {
		return false
	}
	s.inFlight[slot] = struct{}{}
	return true
}

func (s *Server) release(slot string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inFlight, slot)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, d := describe(err)
	if info, ok := r.Context().Value(requestLogKey{}).(*requestLog); ok {
		info.err = err
	}
	writeJSON(w, status, errorBody{Error: d})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"type":"internal","code":"encoding_failed","message":"the response could not be encoded"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// decode reads the request body into v (see decodeBody).
func (c *call) decode(v any) error {
	body, err := readBody(c.w, c.r, c.maxBody)
	if err != nil {
		return err
	}
	return decodeBody(body, v)
}

// query returns the query parameters, refusing any but the allowed ones and repeats.
func (c *call) query(allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for name, vs := range c.r.URL.Query() {
		if !slices.Contains(allowed, name) {
			return nil, store.Errorf(store.KindInvalid, "unknown_parameter", "query parameter %q is not part of this request", name).WithParam(name)
		}
		if len(vs) != 1 {
			return nil, store.Errorf(store.KindInvalid, "invalid_parameter", "query parameter %q is given %d times", name, len(vs)).WithParam(name)
		}
		out[name] = vs[0]
	}
	return out, nil
}

// segment returns the path value name, refusing what cannot name a record (a decoded
// slash, dot segments, control characters) as not found, the answer the ledger gives for
// any other unknown name.
func (c *call) segment(name, what string) (string, error) {
	v := c.r.PathValue(name)
	if v == "" || len(v) > 128 || v == "." || v == ".." || strings.ContainsFunc(v, func(r rune) bool {
		return r == '/' || r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r)
	}) {
		return "", notFound(what, v)
	}
	return v, nil
}

// id returns the path value name, which must be an id of the given prefix.
func (c *call) id(name, prefix, what string) (string, error) {
	v := c.r.PathValue(name)
	if !store.ValidID(v, prefix) {
		return "", notFound(what, v)
	}
	return v, nil
}

// notFound is the ledger's answer for an unknown name: code "<what>_not_found".
func notFound(what, v string) error {
	if len(v) > 64 {
		v = v[:64] + "…"
	}
	return store.Errorf(store.KindNotFound, what+"_not_found", "%s %q not found", what, v).WithParam(what)
}

// bind puts the path's value into a body field, refusing a body that names another.
func bind(field *string, param, fromPath string) error {
	if *field != "" && *field != fromPath {
		return store.Errorf(store.KindInvalid, "path_mismatch", "%s %q in the body differs from %q in the path", param, *field, fromPath).WithParam(param)
	}
	*field = fromPath
	return nil
}

// orEmpty makes a nil list an empty one, so that JSON shows [] rather than null.
func orEmpty[T any](v []T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []T{}
	}
	return v, nil
}
