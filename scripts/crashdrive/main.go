// Command crashdrive is the engine of scripts/crash: it runs `tagpay serve` on a fresh
// ledger, drives concurrent payments and refunds through it with idempotency keys, kills
// the server with SIGKILL at random moments and restarts it, retries every request whose
// answer was lost with the same key, and at the end checks the ledger against what the
// clients were told.
//
// Before the load it starts a webhook endpoint on loopback and registers it for
// order.paid through the API. The endpoint checks each delivery's signature with the
// webhook package's Verify, refuses a bad one, answers 500 to a seeded share of first
// attempts (so that retries run) and answers another share after a pause (so that kills
// land between a delivery and its record), and records every event id and the order it
// names. Once the load and the faults are over it waits, up to 60 s, for an order.paid
// of every acknowledged payment.
//
//	crashdrive -tagpay BIN [-kills 20] [-clients 16] [-payers 8] [-seed N] [-dir DIR] [-webhook-wait 60s]
//
// With -pg URL it runs -replicas servers (3) on one fresh PostgreSQL database made on
// that cluster, spreads the clients over them, kills random replicas, ends the
// replicas' database connections from the server side (-terminations, with
// pg_terminate_backend) and, given -pg-restart CMD, restarts PostgreSQL itself once
// mid-run; a request whose answer was lost is retried on another replica.
//
// It prints two summary lines, `kills N, requests N, acknowledged N, lost N, duplicated N`
// and `webhooks: events N, distinct N, missing N, duplicates-delivered N, bad-signature N`,
// and exits 1 when anything was lost or duplicated, a balance is off, `ledger verify`
// fails, a request got an answer other than success, an acknowledged payment's
// order.paid never arrived, a delivery's signature was bad, or one order has two
// different order.paid events (a delivery may repeat, with the same event id).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tagpay/tagpay/api"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.tagpay, "tagpay", "", "the tagpay binary to run as the server (required)")
	flag.IntVar(&cfg.kills, "kills", 20, "how many times to kill a server")
	flag.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	flag.IntVar(&cfg.payers, "payers", 8, "payer accounts the clients share")
	flag.Uint64Var(&cfg.seed, "seed", 0, "random seed (0: from the clock); printed so that a run can be repeated")
	flag.StringVar(&cfg.dir, "dir", "", "folder for the ledger and the server logs (default: a fresh temporary one, removed after a clean run)")
	flag.StringVar(&cfg.pg, "pg", "", "a PostgreSQL URL: run the replicas on a fresh database of that cluster instead of a ledger file")
	flag.IntVar(&cfg.replicas, "replicas", 3, "with -pg: servers on the one database")
	flag.IntVar(&cfg.terminations, "terminations", 6, "with -pg: times to end every replica's database connections from the server side")
	flag.StringVar(&cfg.pgRestart, "pg-restart", "", "with -pg: a command that restarts PostgreSQL (immediate mode); run once mid-run")
	flag.DurationVar(&cfg.duration, "duration", 0, "run at least this long, spreading the faults over it")
	// A delivery claimed by a replica killed on PostgreSQL waits for its lease (40 s) to
	// run out before another replica takes it over: the default wait leaves room for it.
	flag.DurationVar(&cfg.webhookWait, "webhook-wait", 60*time.Second, "how long to wait, once the load is over, for the order.paid events still due")
	flag.Parse()
	if err := cfg.check(); err != nil {
		fmt.Fprintln(os.Stderr, "crashdrive:", err)
		os.Exit(2)
	}
	ok, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashdrive:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

type config struct {
	tagpay                 string
	kills, clients, payers int
	seed                   uint64
	dir                    string
	keepDir                bool
	pg, pgRestart          string
	replicas, terminations int
	duration, webhookWait  time.Duration
}

func (c *config) check() error {
	switch {
	case c.tagpay == "":
		return errors.New("-tagpay BIN is required")
	case c.kills < 1 || c.kills > 10000:
		return fmt.Errorf("-kills must be 1 to 10000, not %d", c.kills)
	case c.clients < 1 || c.clients > 256:
		return fmt.Errorf("-clients must be 1 to 256, not %d", c.clients)
	case c.payers < 1 || c.payers > c.clients:
		return fmt.Errorf("-payers must be 1 to the number of clients (%d), not %d", c.clients, c.payers)
	case c.pg == "" && (c.pgRestart != ""):
		return errors.New("-pg-restart needs -pg")
	case c.pg != "" && (c.replicas < 1 || c.replicas > 16):
		return fmt.Errorf("-replicas must be 1 to 16, not %d", c.replicas)
	case c.terminations < 0 || c.duration < 0 || c.webhookWait < 0:
		return errors.New("-terminations, -duration and -webhook-wait cannot be negative")
	}
	if c.pg == "" {
		c.replicas, c.terminations = 1, 0
	}
	if c.seed == 0 {
		c.seed = uint64(time.Now().UnixNano())
	}
	c.keepDir = c.dir != ""
	return nil
}

// Each payer starts with this much (minor units), far more than the run can spend, so
// that no payment is declined and every acknowledgement is a success to account for.
const funding = 10_000_000

// fault is one blow of the run.
type fault int

const (
	faultKill      fault = iota // SIGKILL a replica, then start it again
	faultTerminate              // pg_terminate_backend every replica connection
	faultRestartPG              // pg_ctl restart -m immediate
)

func run(cfg config) (bool, error) {
	dir := cfg.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tagpay-crash-")
		if err != nil {
			return false, err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	rng := mrand.New(mrand.NewPCG(cfg.seed, 1))
	ledger := filepath.Join(dir, "ledger.db")
	var db *database
	if cfg.pg != "" {
		var err error
		if db, err = newDatabase(cfg.pg); err != nil {
			return false, err
		}
		ledger = db.url
	}
	keyFile := filepath.Join(dir, "admin.key")
	var srvs []*server
	for i := range cfg.replicas {
		srv, err := newServer(cfg.tagpay, ledger, keyFile, filepath.Join(dir, fmt.Sprintf("serve-%d.log", i)))
		if err != nil {
			return false, err
		}
		srvs = append(srvs, srv)
	}
	where := "ledger and server logs in " + dir
	if db != nil {
		where = fmt.Sprintf("%d replicas on database %s; server logs in %s", cfg.replicas, db.name, dir)
	}
	fmt.Fprintf(os.Stderr, "crash: seed %d, %d clients on %d payers, %d kills; %s\n", cfg.seed, cfg.clients, cfg.payers, cfg.kills, where)
	// The first replica makes the ledger and its admin key; the others find both.
	for _, srv := range srvs {
		if err := srv.start(); err != nil {
			return false, err
		}
		defer srv.kill() // whatever happens, no server is left behind
	}

	ctx := context.Background()
	d := &driver{run: fmt.Sprintf("%08x", rng.Uint32())}
	for _, srv := range srvs {
		d.bes = append(d.bes, srv.client())
	}
	if err := d.setup(ctx, cfg.payers); err != nil {
		return false, err
	}
	// The run's webhook endpoint, registered through the API with the admin key.
	rcv, err := newReceiver(cfg.seed)
	if err != nil {
		return false, err
	}
	defer rcv.close()
	if err := d.registerWebhook(ctx, rcv); err != nil {
		return false, err
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	for c := range cfg.clients {
		w := &worker{d: d, id: c, rep: c % len(srvs), payer: d.payers[c%len(d.payers)], rng: mrand.New(mrand.NewPCG(cfg.seed, uint64(c)+2))}
		wg.Go(func() { w.loop(ctx, &stop) })
	}

	// The faults in a random order, the PostgreSQL restart somewhere in the middle.
	var faults []fault
	for range cfg.kills {
		faults = append(faults, faultKill)
	}
	for range cfg.terminations {
		faults = append(faults, faultTerminate)
	}
	rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	if cfg.pgRestart != "" {
		mid := len(faults)/3 + rng.IntN(len(faults)/3+1)
		faults = append(faults[:mid], append([]fault{faultRestartPG}, faults[mid:]...)...)
	}
	began := time.Now()
	var kills, terminated, restarts int
	for i, f := range faults {
		if d.failure() != nil {
			break
		}
		// Let some work through, then strike at a random moment of it; with -duration,
		// no sooner than the fault's share of the run.
		d.waitAcks(d.acked.Load() + 1 + int64(rng.IntN(8)))
		time.Sleep(time.Duration(rng.IntN(150_000)) * time.Microsecond)
		if cfg.duration > 0 {
			due := began.Add(cfg.duration * time.Duration(i+1) / time.Duration(len(faults)+1))
			time.Sleep(time.Until(due))
		}
		switch f {
		case faultKill:
			srv := srvs[rng.IntN(len(srvs))]
			if err := srv.kill(); err != nil {
				return false, err
			}
			kills++
			// Down a little while, so that its clients find out and move on.
			time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
			if err := srv.start(); err != nil {
				return false, err
			}
		case faultTerminate:
			n, err := db.terminate(ctx)
			if err != nil {
				return false, err
			}
			terminated += n
		case faultRestartPG:
			fmt.Fprintf(os.Stderr, "crash: restarting PostgreSQL (%s)\n", cfg.pgRestart)
			if out, err := exec.Command("sh", "-c", cfg.pgRestart).CombinedOutput(); err != nil {
				return false, fmt.Errorf("restarting PostgreSQL: %v\n%s", err, out)
			}
			restarts++
		}
	}
	if cfg.duration > 0 {
		time.Sleep(time.Until(began.Add(cfg.duration)))
	}
	stop.Store(true)
	wg.Wait()
	// Every acknowledged payment's order.paid is due at the endpoint: wait for the last
	// ones (a retry after a refused first attempt, a delivery a kill interrupted).
	waited := time.Now()
	duringLoad := rcv.accepted()
	d.mu.Lock()
	paid := maps.Clone(d.payments)
	d.mu.Unlock()
	limit := cfg.webhookWait
	if d.failure() != nil {
		limit = 5 * time.Second // the run failed already; report what came
	}
	rcv.waitFor(paid, limit)
	caughtUp := time.Since(waited)
	for _, srv := range srvs {
		if err := srv.stop(); err != nil {
			return false, err
		}
	}

	report, err := d.check(ctx, ledger)
	if err != nil {
		return false, err
	}
	if err := d.failure(); err != nil {
		// The run stopped early; what was acknowledged until then is still checked.
		report.problem("a request failed for another reason than the crash (server logs in %s): %v", dir, err)
	}
	verifyOut, verifyErr := exec.Command(cfg.tagpay, "ledger", "verify", "--db", ledger).CombinedOutput()
	if verifyErr != nil {
		report.problems = append(report.problems, fmt.Sprintf("tagpay ledger verify: %v\n%s", verifyErr, verifyOut))
	}
	hooks := rcv.report(paid)
	report.problems = append(report.problems, hooks.problems...)
	for _, p := range report.problems {
		fmt.Fprintln(os.Stderr, "crash:", p)
	}
	if db != nil {
		fmt.Fprintf(os.Stderr, "crash: %d replicas on one database, %d server-side connection terminations (%d backends ended), %d PostgreSQL restart(s)\n",
			len(srvs), cfg.terminations, terminated, restarts)
	}
	fmt.Fprintf(os.Stderr, "crash: %d answers lost to a fault were retried with the same idempotency key; %d payments, %d refunds in %.0f s; ledger verify %s\n",
		d.retried.Load(), report.payments, report.refunds, time.Since(began).Seconds(), verdict(verifyErr == nil))
	caught := fmt.Sprintf("it had every order.paid %.1f s after the load ended", caughtUp.Seconds())
	if hooks.missing > 0 {
		caught = fmt.Sprintf("%d order.paid still missing %.0f s after the load ended", hooks.missing, caughtUp.Seconds())
	}
	fmt.Fprintf(os.Stderr, "crash: webhook endpoint took %d deliveries during the faults, refused %d first attempts and answered %d slowly, on purpose; %s\n",
		duringLoad, hooks.refused, hooks.slow, caught)
	fmt.Printf("kills %d, requests %d, acknowledged %d, lost %d, duplicated %d\n", kills, d.requests.Load(), d.acked.Load(), report.lost, report.duplicated)
	fmt.Printf("webhooks: events %d, distinct %d, missing %d, duplicates-delivered %d, bad-signature %d\n", hooks.deliveries, hooks.distinct, hooks.missing, hooks.repeats, hooks.badSig)
	ok := len(report.problems) == 0 && report.lost == 0 && report.duplicated == 0 && hooks.ok()
	if ok && !cfg.keepDir {
		os.RemoveAll(dir)
		if db != nil {
			if err := db.drop(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "crash: dropping the database:", err)
			}
		}
	} else if db != nil {
		fmt.Fprintf(os.Stderr, "crash: database %s is kept\n", db.name)
	}
	return ok, nil
}

func verdict(ok bool) string {
	if ok {
		return "clean"
	}
	return "FAILED"
}

// database is the run's own database on the cluster of -pg.
type database struct {
	base, name, url string
}

func newDatabase(base string) (*database, error) {
	var raw [6]byte
	rand.Read(raw[:])
	d := &database{base: base, name: "tagpay_crash_" + hex.EncodeToString(raw[:])}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("-pg is not a URL: %w", err)
	}
	u.Path = "/" + d.name
	d.url = u.String()
	if err := d.exec(context.Background(), "CREATE DATABASE "+d.name); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *database) exec(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, d.base)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// terminate ends every connection to the run's database, as an administrator or a
// failover would, and returns how many it ended.
func (d *database) terminate(ctx context.Context) (int, error) {
	conn, err := pgx.Connect(ctx, d.base)
	if err != nil {
		return 0, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) t", d.name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pg_terminate_backend: %w", err)
	}
	return n, nil
}

func (d *database) drop(ctx context.Context) error {
	return d.exec(ctx, "DROP DATABASE "+d.name+" WITH (FORCE)")
}

// server is one `tagpay serve` process at a time on a fixed loopback port, so that the
// clients keep their URL across restarts.
type server struct {
	bin, ledger, keyFile, logPath, url string
	log                                *os.File
	cmd                                *exec.Cmd
	exited                             chan error
	token                              string
}

// newServer prepares a server of ledger (a file or a database URL) whose admin key is
// keyFile (written by the first server to start on a ledger without keys) and whose
// log is logPath.
func newServer(bin, ledger, keyFile, logPath string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		bin: bin, ledger: ledger, keyFile: keyFile, logPath: logPath,
		url: fmt.Sprintf("http://127.0.0.1:%d", port),
	}
	s.log, err = os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	return s, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs the server as a supervisor would: one that exits during start-up (its
// database was restarting) is started again, for up to 30 s.
func (s *server) start() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.startOnce()
		if !errors.Is(err, errExitedEarly) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var errExitedEarly = errors.New("tagpay serve exited during start-up")

// startOnce runs the server and waits until it answers /healthz.
func (s *server) startOnce() error {
	s.cmd = exec.Command(s.bin, "serve", "--db", s.ledger, "--addr", strings.TrimPrefix(s.url, "http://"), "--bootstrap-admin-key", s.keyFile)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting tagpay serve: %w", err)
	}
	s.exited = make(chan error, 1)
	go func(c *exec.Cmd, done chan<- error) { done <- c.Wait() }(s.cmd, s.exited)

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.cmd = nil
			return fmt.Errorf("%w (%v); see %s", errExitedEarly, err, s.logPath)
		default:
		}
		if resp, err := hc.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if s.token == "" {
					key, err := os.ReadFile(s.keyFile)
					if err != nil {
						return fmt.Errorf("reading the bootstrap admin key: %w", err)
					}
					s.token = strings.TrimSpace(string(key))
				}
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("tagpay serve did not answer /healthz within 30 s; see %s", s.logPath)
}

// kill ends the server with SIGKILL, as a power cut or the OOM killer would, and waits
// until the process is gone and its ledger lock with it.
func (s *server) kill() error {
	if s.cmd == nil {
		return nil
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing tagpay serve: %w", err)
	}
	<-s.exited
	s.cmd = nil
	return nil
}

// stop ends the server the polite way (SIGTERM) and requires a clean exit.
func (s *server) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping tagpay serve: %w", err)
	}
	err := <-s.exited
	s.cmd = nil
	if err != nil {
		return fmt.Errorf("tagpay serve did not shut down cleanly on SIGTERM (%v); see %s", err, s.logPath)
	}
	return nil
}

func (s *server) client() *api.Client {
	hc := &http.Client{Timeout: 20 * time.Second}
	return api.NewClient(s.url, s.token, api.WithHTTPClient(hc), api.WithUserAgent("tagpay-crash"))
}
