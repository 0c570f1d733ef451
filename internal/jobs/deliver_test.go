package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"trel/internal/blob"
	"trel/internal/checks"
	"trel/internal/core"
	"trel/internal/domain"
	"trel/internal/jobs"
	"trel/internal/mail"
	"trel/internal/sigstore"
	"trel/internal/store"
	"trel/internal/store/sqlstore"
	"trel/internal/testutil/services"
	"trel/internal/testutil/smtptest"
)

// TestDeliveriesOnceAcrossRunners: two runners (two replicas) work one
// outbox through River; every mail reaches the SMTP server exactly once,
// a temporary failure included, on SQLite and on PostgreSQL.
func TestDeliveriesOnceAcrossRunners(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "trel.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := jobs.Migrate(context.Background(), st.SQL()); err != nil {
			t.Fatal(err)
		}
		deliverOnce(t, st, func(cfg *jobs.Config) { cfg.SQLite = st.SQL() })
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := sqlstore.OpenPostgres(context.Background(), services.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := jobs.MigratePostgres(context.Background(), st.Pool()); err != nil {
			t.Fatal(err)
		}
		deliverOnce(t, st, func(cfg *jobs.Config) { cfg.Postgres = st.Pool() })
	})
}

func deliverOnce(t *testing.T, st store.Store, engine func(*jobs.Config)) {
	ctx := context.Background()
	sink := smtptest.Start(t, smtptest.Options{})
	sink.FailNext(3)
	blobs, _ := blob.NewDisk(filepath.Join(t.TempDir(), "blobs"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var svcs []*core.Service
	for range 2 {
		svc := core.New(st, blobs, core.Options{Logger: log})
		cfg, err := mail.ParseURL("smtp://"+sink.Addr, "trel@example.org")
		if err != nil {
			t.Fatal(err)
		}
		svc.SetNotify(core.NotifyConfig{Mailer: mail.NewSender(cfg), RetryBase: 20 * time.Millisecond})
		svcs = append(svcs, svc)
	}
	sys := core.SystemActor
	svc := svcs[0]
	if _, err := svc.CreateCommittee(ctx, sys, "alpha", "Alpha"); err != nil {
		t.Fatal(err)
	}
	p, err := svc.CreateProject(ctx, sys, "alpha-lib", "alpha", "Lib")
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	err = st.Tx(ctx, func(tx store.Tx) error {
		for i := range n {
			m := mail.Message{From: "trel@example.org", To: []string{"dev@example.org"}, Subject: fmt.Sprintf("mail %d", i),
				MessageID: mail.NewMessageID("example.org"), Date: time.Now(), Body: "hello\n"}
			b, _ := json.Marshal(m)
			if err := tx.AddDelivery(ctx, &domain.Delivery{Channel: domain.ChannelMail, Topic: domain.MailVote, ProjectID: p.ID,
				MessageID: m.MessageID, Payload: string(b), NotBefore: time.Now(), CreatedAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		cfg := jobs.Config{Store: st, Checker: checks.NewEngine(st, blobs, sigstore.DefaultVerifier()), Log: log, Deliverer: s, Sweep: 30 * time.Millisecond}
		engine(&cfg)
		r, err := jobs.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Stop(ctx)
	}
	got := sink.Wait(n, 60*time.Second)
	time.Sleep(300 * time.Millisecond) // a second sending would show by now
	got = sink.Messages()
	seen := map[string]int{}
	for _, m := range got {
		seen[m.Header().Get("Message-ID")]++
	}
	if len(got) != n || len(seen) != n {
		t.Fatalf("%d messages with %d distinct Message-IDs, want %d (after %d attempts)", len(got), len(seen), n, sink.Attempts())
	}
	if sink.Attempts() != n+3 {
		t.Fatalf("%d SMTP transactions, want %d (3 temporary failures)", sink.Attempts(), n+3)
	}
	due, _ := st.DueDeliveries(ctx, time.Now().Add(time.Hour), 100)
	if len(due) != 0 {
		t.Fatalf("%d deliveries still pending", len(due))
	}
}
