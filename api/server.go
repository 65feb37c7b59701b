package api

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/time/rate"

	"github.com/tagpay/tagpay/backend"
	"github.com/tagpay/tagpay/store"
)

// ServerOptions tune NewServer.
type ServerOptions struct {
	// Logger receives one line per request; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Limits bound how fast one client address may fail to authenticate and how fast one
	// key may call.
	Limits Limits
	// TrustedProxies are the reverse proxies in front of the server. A request from one
	// of them is the client's that X-Forwarded-For names, for the limits and the log;
	// from anywhere else the header is ignored, since any client can send it.
	TrustedProxies []netip.Prefix
}

// Limits are the request rates the server allows; each rate is per second.
type Limits struct {
	// AuthFailureRate and AuthFailureBurst bound failed authentications per client
	// address (IPv6: per /64): Burst at once, then Rate a second. Zero values take
	// DefaultAuthFailureRate and DefaultAuthFailureBurst; a negative rate turns it off.
	AuthFailureRate  float64
	AuthFailureBurst int
	// KeyRate and KeyBurst bound the requests of one API key; a zero rate (the
	// default) means no limit. A zero burst with a rate set means one.
	KeyRate  float64
	KeyBurst int
}

// The default bound of failed authentications: enough for a person mistyping a key, far
// too few to guess one, and cheap to keep per address.
const (
	DefaultAuthFailureRate  = 1.0
	DefaultAuthFailureBurst = 30
)

func (l Limits) withDefaults() Limits {
	if l.AuthFailureRate == 0 {
		l.AuthFailureRate = DefaultAuthFailureRate
	}
	if l.AuthFailureBurst <= 0 {
		l.AuthFailureBurst = DefaultAuthFailureBurst
	}
	if l.KeyRate > 0 && l.KeyBurst <= 0 {
		l.KeyBurst = 1
	}
	return l
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

	authFailures *limiters // by client address; nil when off
	perKey       *limiters // by key id; nil when off
	proxies      []netip.Prefix
}

// NewServer returns the handler of every /v1 route and /healthz, serving backend.
func NewServer(be *backend.Local, opts ServerOptions) *Server {
	s := &Server{
		be:       be,
		log:      opts.Logger,
		maxBody:  opts.MaxBodyBytes,
		mux:      http.NewServeMux(),
		inFlight: map[string]struct{}{},
		proxies:  opts.TrustedProxies,
	}
	lim := opts.Limits.withDefaults()
	if lim.AuthFailureRate > 0 {
		s.authFailures = newLimiters(rate.Limit(lim.AuthFailureRate), lim.AuthFailureBurst)
	}
	if lim.KeyRate > 0 {
		s.perKey = newLimiters(rate.Limit(lim.KeyRate), lim.KeyBurst)
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
	client string // the client's address: the peer's, or the one a trusted proxy names
	route  string
	keyID  string
	status int
	err    error
}

type requestLogKey struct{}

// ServeHTTP logs one line per request around the router, with the request's id and
// client address, and turns a panic of a handler into a 500 instead of a dropped
// connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &requestLog{client: s.clientAddr(r)}
	sw := &statusWriter{ResponseWriter: w}
	id := requestID(r.Header.Get("X-Request-Id"))
	sw.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), requestLogKey{}, info))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p) // the handler asked for the connection to be dropped
			}
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
			slog.String("request_id", id),
			slog.String("client", info.client),
			slog.String("method", r.Method),
			slog.String("route", info.route),
			slog.Int("status", sw.status),
			slog.String("duration", humanDuration(time.Since(start))),
		}
		if info.keyID != "" {
			attrs = append(attrs, slog.String("key", info.keyID))
		}
		if info.err != nil && sw.status >= 400 {
			// The code is stable and names no secret; the text may name server paths.
			attrs = append(attrs, slog.String("code", store.CodeOf(info.err)))
			if sw.status >= 500 {
				attrs = append(attrs, slog.String("error", info.err.Error()))
			}
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

// humanDuration rounds d to what a person reads in a log: 1.2ms, 350µs, 2.5s.
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// requestID is the client's X-Request-Id when it is short and plain, so that a client
// can find its request in the log; otherwise a new random one. What looks like an API
// key is never taken: the id goes into every log line.
func requestID(sent string) string {
	if len(sent) >= 8 && len(sent) <= 64 && !strings.HasPrefix(sent, store.SecretPrefix) && !strings.ContainsFunc(sent, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == ':')
	}) {
		return sent
	}
	var b [15]byte
	rand.Read(b[:])
	return "req_" + strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// clientHost is the address a request came from, without its port.
func clientHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// clientAddr is the address of the request's client: the peer's, unless the peer is a
// trusted proxy; then the last address of X-Forwarded-For that is not a trusted proxy
// (the one the outermost proxy saw; those before it the client may have written).
func (s *Server) clientAddr(r *http.Request) string {
	peer := clientHost(r.RemoteAddr)
	if len(s.proxies) == 0 {
		return peer
	}
	if a, err := netip.ParseAddr(peer); err != nil || !s.trusted(a) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop that is not an address: nothing before it can be believed
		}
		if !s.trusted(a) {
			return a.Unmap().WithZone("").String() // a zone names an interface of the proxy, not the client
		}
	}
	return peer
}

// trusted reports whether a is one of the trusted proxies.
func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientBucket groups client addresses that one party is likely to hold: one IPv4
// address, or one IPv6 /64 (a single host usually gets a whole /64).
func clientBucket(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// limiters keeps one token bucket per name, forgetting buckets that have been full
// (untouched) for a while so that many addresses cannot grow it without bound.
type limiters struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	by    map[string]*rate.Limiter
	sweep time.Time
}

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, by: map[string]*rate.Limiter{}, sweep: time.Now()}
}

func (l *limiters) get(name string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute || len(l.by) > 1<<16 {
		for k, lim := range l.by {
			if lim.TokensAt(now) >= float64(l.burst) {
				delete(l.by, k) // a new bucket would be the same
			}
		}
		l.sweep = now
	}
	lim, ok := l.by[name]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.by[name] = lim
	}
	return lim
}

// exhausted reports how long name must wait for a token, without taking one; 0 when it
// has one.
func (l *limiters) exhausted(name string, now time.Time) time.Duration {
	lim := l.get(name, now)
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
}

// take spends one token of name, reporting how long to wait when there is none.
func (l *limiters) take(name string, now time.Time) time.Duration {
	lim := l.get(name, now)
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// tooManyRequests is the 429 answer, with Retry-After in whole seconds; the message
// ends with the wait.
func tooManyRequests(w http.ResponseWriter, wait time.Duration, code, format string, args ...any) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return newHTTPError(http.StatusTooManyRequests, store.KindUnavailable, code, format+"; retry in %ds", append(args, secs)...)
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
		actor, err := s.authenticate(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if info != nil {
			info.keyID = actor.ID
		}
		if s.perKey != nil {
			if wait := s.perKey.take(actor.ID, time.Now()); wait > 0 {
				s.writeError(w, r, tooManyRequests(w, wait, "rate_limited", "API key %s sends requests faster than this server allows", actor.ID))
				return
			}
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
				c.ctx = store.WithReplayFlag(store.WithIdempotencyKey(c.ctx, c.idemKey), &replayed)
			}
		}
		out, err := fn(c)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if _, ok := out.(streamed); ok {
			return // the handler wrote its own answer
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handlePublic registers a route that needs no API key: no authentication, rate limit
// or idempotency bookkeeping, only JSON rendering.
func (s *Server) handlePublic(method, path string, fn handler) {
	pattern := method + " " + path
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(requestLogKey{}).(*requestLog); ok {
			info.route = pattern
		}
		out, err := fn(&call{r: r, w: w, ctx: r.Context(), maxBody: s.maxBody})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// authenticate reads "Authorization: Bearer <key>" and finds its actor. A client address
// that has failed too often is refused before its key is even looked at, so guessing
// keys is slow and a flood of bad keys costs the ledger nothing.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (store.Actor, error) {
	now := time.Now()
	addr := clientHost(r.RemoteAddr)
	if info, ok := r.Context().Value(requestLogKey{}).(*requestLog); ok {
		addr = info.client
	}
	client := clientBucket(addr)
	if s.authFailures != nil {
		if wait := s.authFailures.exhausted(client, now); wait > 0 {
			return store.Actor{}, tooManyRequests(w, wait, "too_many_failed_authentications", "too many requests from this address failed to authenticate")
		}
	}
	actor, err := s.checkKey(r)
	if err != nil && store.KindOf(err) == store.KindUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tagpay"`)
		if s.authFailures != nil {
			s.authFailures.take(client, now)
		}
	}
	return actor, err
}

func (s *Server) checkKey(r *http.Request) (store.Actor, error) {
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

// query returns the query parameters, refusing any but the allowed ones, repeats, and a
// value that the parameter's row of queryFilters refuses. An empty value is no filter.
func (c *call) query(allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for name, vs := range c.r.URL.Query() {
		if !slices.Contains(allowed, name) {
			return nil, store.Errorf(store.KindInvalid, "unknown_parameter", "query parameter %q is not part of this request", name).WithParam(name)
		}
		if len(vs) != 1 {
			return nil, store.Errorf(store.KindInvalid, "invalid_parameter", "query parameter %q is given %d times", name, len(vs)).WithParam(name)
		}
		out[name] = store.CanonicalID(vs[0])
	}
	return out, nil
}

// clip shortens a value echoed in an error.
func clip(v string) string {
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
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
	v := store.CanonicalID(c.r.PathValue(name))
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
