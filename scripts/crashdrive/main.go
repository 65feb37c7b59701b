// Command crashdrive is the engine of scripts/crash: it runs `tagpay serve` on a fresh
// ledger, drives concurrent payments and refunds through it with idempotency keys, kills
// the server with SIGKILL at random moments and restarts it, retries every request whose
// answer was lost with the same key, and at the end checks the ledger against what the
// clients were told.
//
//	crashdrive -tagpay BIN [-kills 20] [-clients 16] [-payers 8] [-seed N] [-dir DIR]
//
// It prints one summary line, `kills N, requests N, acknowledged N, lost N, duplicated N`,
// and exits 1 when anything was lost or duplicated, a balance is off, `ledger verify`
// fails, or a request got an answer other than success.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tagpay/tagpay/api"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.tagpay, "tagpay", "", "the tagpay binary to run as the server (required)")
	flag.IntVar(&cfg.kills, "kills", 20, "how many times to kill the server")
	flag.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	flag.IntVar(&cfg.payers, "payers", 8, "payer accounts the clients share")
	flag.Uint64Var(&cfg.seed, "seed", 0, "random seed (0: from the clock); printed so that a run can be repeated")
	flag.StringVar(&cfg.dir, "dir", "", "folder for the ledger and the server log (default: a fresh temporary one, removed after a clean run)")
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
	srv, err := newServer(cfg.tagpay, dir)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(os.Stderr, "crash: seed %d, %d clients on %d payers, %d kills; ledger and server log in %s\n", cfg.seed, cfg.clients, cfg.payers, cfg.kills, dir)
	if err := srv.start(); err != nil {
		return false, err
	}
	defer srv.kill() // whatever happens, no server is left behind

	rng := rand.New(rand.NewPCG(cfg.seed, 1))
	ctx := context.Background()
	d := &driver{be: srv.client(), run: fmt.Sprintf("%08x", rng.Uint32())}
	if err := d.setup(ctx, cfg.payers); err != nil {
		return false, err
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	for c := range cfg.clients {
		w := &worker{d: d, id: c, payer: d.payers[c%len(d.payers)], rng: rand.New(rand.NewPCG(cfg.seed, uint64(c)+2))}
		wg.Go(func() { w.loop(ctx, &stop) })
	}
	kills := 0
	for kills < cfg.kills && d.failure() == nil {
		// Let some work through, then strike at a random moment of it.
		d.waitAcks(d.acked.Load() + 1 + int64(rng.IntN(8)))
		time.Sleep(time.Duration(rng.IntN(150_000)) * time.Microsecond)
		if err := srv.kill(); err != nil {
			return false, err
		}
		kills++
		if err := srv.start(); err != nil {
			return false, err
		}
	}
	stop.Store(true)
	wg.Wait()
	if err := srv.stop(); err != nil {
		return false, err
	}

	report, err := d.check(ctx, srv.ledger)
	if err != nil {
		return false, err
	}
	if err := d.failure(); err != nil {
		// The run stopped early; what was acknowledged until then is still checked.
		report.problem("a request failed for another reason than the crash (server log: %s): %v", srv.logPath, err)
	}
	verifyOut, verifyErr := exec.Command(cfg.tagpay, "ledger", "verify", "--db", srv.ledger).CombinedOutput()
	if verifyErr != nil {
		report.problems = append(report.problems, fmt.Sprintf("tagpay ledger verify: %v\n%s", verifyErr, verifyOut))
	}
	for _, p := range report.problems {
		fmt.Fprintln(os.Stderr, "crash:", p)
	}
	fmt.Fprintf(os.Stderr, "crash: %d answers lost to a kill were retried with the same idempotency key; %d payments, %d refunds; ledger verify %s\n",
		d.retried.Load(), report.payments, report.refunds, verdict(verifyErr == nil))
	fmt.Printf("kills %d, requests %d, acknowledged %d, lost %d, duplicated %d\n", kills, d.requests.Load(), d.acked.Load(), report.lost, report.duplicated)
	ok := len(report.problems) == 0 && report.lost == 0 && report.duplicated == 0
	if ok && !cfg.keepDir {
		os.RemoveAll(dir)
	}
	return ok, nil
}

func verdict(ok bool) string {
	if ok {
		return "clean"
	}
	return "FAILED"
}

// server is one `tagpay serve` process at a time on a fixed loopback port, so that the
// clients keep their URL across restarts.
type server struct {
	bin, dir, ledger, keyFile, logPath, url string
	log                                     *os.File
	cmd                                     *exec.Cmd
	exited                                  chan error
	token                                   string
}

func newServer(bin, dir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		bin: bin, dir: dir,
		ledger:  filepath.Join(dir, "ledger.db"),
		keyFile: filepath.Join(dir, "admin.key"),
		logPath: filepath.Join(dir, "serve.log"),
		url:     fmt.Sprintf("http://127.0.0.1:%d", port),
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

// start runs the server and waits until it answers /healthz.
func (s *server) start() error {
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
			return fmt.Errorf("tagpay serve exited during start-up (%v); see %s", err, s.logPath)
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
