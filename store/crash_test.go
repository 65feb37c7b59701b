//go:build unix

package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func init() {
	// crash-writer: transfer money among the ledger's person accounts from several
	// goroutines through Batch, forever, printing each transfer's id once Batch has
	// returned it, that is once it is committed. The parent kills it.
	childModes["crash-writer"] = func() int {
		db, err := Open(os.Getenv("LEDGER"), Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		accounts, err := db.ListAccounts(context.Background(), Page{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var people []Account
		for _, a := range accounts {
			if a.Kind == AccountPerson {
				people = append(people, a)
			}
		}
		var out sync.Mutex
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
				for {
					from, to := people[rng.IntN(len(people))], people[rng.IntN(len(people))]
					if from.ID == to.ID {
						continue
					}
					var tr Transfer
					err := db.Batch(context.Background(), func(tx *Tx) (err error) {
						tr, err = tx.Transfer(TransferSpec{Kind: TransferPayment, From: from.ID, To: to.ID, Amount: Money{int64(1 + rng.IntN(50)), "EUR"}})
						return err
					})
					if err != nil {
						if CodeOf(err) == "insufficient_funds" {
							continue
						}
						fmt.Fprintln(os.Stderr, "transfer:", err)
						os.Exit(1)
					}
					out.Lock()
					fmt.Println(tr.ID) // one write per line: a kill never cuts a line in two
					out.Unlock()
				}
			})
		}
		wg.Wait()
		return 0
	}
}

// A process doing transfers is killed with SIGKILL at a random moment, several times
// over: the ledger reopens, verifies, holds every transfer the process reported as
// committed, and its money adds up.
func TestCrashLosesNothingCommitted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const people, funds = 8, 10000
	for i := range people {
		fundedAccount(t, db, fmt.Sprint("person ", i), "EUR", funds)
	}
	db.Close()

	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	var reported []string
	for round := range rounds {
		ids := runAndKill(t, path, 20+rand.IntN(200), time.Duration(rand.IntN(30))*time.Millisecond)
		reported = append(reported, ids...)

		db, err := Open(path, Options{LockTimeout: time.Second, NoSync: true})
		if err != nil {
			t.Fatalf("round %d: reopening after the kill: %v", round, err)
		}
		verifyClean(t, db)
		err = db.View(bg, func(tx *Tx) error {
			for _, id := range reported {
				if _, err := tx.TransferByID(id); err != nil {
					t.Errorf("round %d: transfer %s was reported committed: %v", round, id, err)
				}
			}
			total := int64(0)
			accounts, err := tx.Accounts(Page{})
			for _, a := range accounts {
				if a.Kind == AccountPerson {
					total += a.Balance
				}
			}
			if total != people*funds {
				t.Errorf("round %d: people hold %d together, want %d", round, total, people*funds)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		t.Logf("round %d: killed after %d reported transfers", round, len(ids))
	}
}

// runAndKill runs a crash-writer on path, kills it with SIGKILL after it has reported at
// least after transfers and waited a further pause, and returns every transfer id it
// reported, including those still in the pipe when it died.
func runAndKill(t *testing.T, path string, after int, pause time.Duration) []string {
	t.Helper()
	child := childCommand(t, "crash-writer", "LEDGER="+path)
	var stderr strings.Builder
	child.Stderr = &stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var ids []string
	timeout := time.After(20 * time.Second)
	for len(ids) < after {
		select {
		case id, ok := <-lines:
			if !ok {
				child.Wait()
				t.Fatalf("child ended before the kill: %s", stderr.String())
			}
			ids = append(ids, id)
		case <-timeout:
			child.Process.Kill()
			t.Fatalf("child reported only %d transfers: %s", len(ids), stderr.String())
		}
	}
	time.Sleep(pause)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for id := range lines { // what it wrote before dying is still in the pipe
		ids = append(ids, id)
	}
	child.Wait()
	for _, id := range ids {
		if !ValidID(id, PrefixTransfer) {
			t.Fatalf("child printed %q, not a transfer id", id)
		}
	}
	return ids
}
