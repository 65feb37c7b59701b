package cmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// hook-receiver DIR FAIL is a webhook endpoint on loopback for the scripts: it writes
// its URL to DIR/url, answers the first FAIL requests 500 and the others 204, and keeps
// request n as DIR/n.body, DIR/n.sig (the signature header) and DIR/n.event (the event
// id); DIR/ok-K appears when K requests have been answered 204, and DIR/ids lists the
// event id of each 204, one a line. It stops when killed or after two minutes.
func hookReceiver() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: hook-receiver DIR FAIL")
		os.Exit(2)
	}
	dir := os.Args[1]
	fail, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	n, ok := 0, 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		n++
		base := filepath.Join(dir, strconv.Itoa(n))
		os.WriteFile(base+".body", body, 0o600)
		os.WriteFile(base+".sig", []byte(r.Header.Get("Tagpay-Signature")), 0o600)
		os.WriteFile(base+".event", []byte(r.Header.Get("Tagpay-Event-Id")), 0o600)
		if n <= fail {
			http.Error(w, "failing on purpose", http.StatusInternalServerError)
			return
		}
		ok++
		f, _ := os.OpenFile(filepath.Join(dir, "ids"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		fmt.Fprintln(f, r.Header.Get("Tagpay-Event-Id"))
		f.Close()
		os.WriteFile(filepath.Join(dir, "ok-"+strconv.Itoa(ok)), nil, 0o600)
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	// The URL is written last and whole, so that a waiter never reads half of it.
	tmp := filepath.Join(dir, "url.tmp")
	os.WriteFile(tmp, []byte("http://"+ln.Addr().String()+"/hook"), 0o600)
	os.Rename(tmp, filepath.Join(dir, "url"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Minute):
	}
	srv.Close()
}
