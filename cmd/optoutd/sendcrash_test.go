package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSendCrashes kills `optoutd run` (the built binary) with SIGKILL at
// random moments while it sends, over waves of first contacts, and
// restarts it each time (issue 16): no reply is lost, a kill sends at most
// one message twice, every copy is the same bytes, and after the last
// start the queue is empty within 60 s (a dead sender's rows are taken
// over after their 20 s lease).
func TestSendCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the daemon over several hundred replies")
	}
	r := newDaemonRig(t)
	const waves, perWave = 10, 30
	start := func() (*exec.Cmd, *bytes.Buffer, chan error) {
		cmd := exec.Command(optoutdBin, "run")
		cmd.Env = baseEnv(r.env)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		return cmd, &logs, exited
	}
	kills := 0
	for w := range waves {
		var raws [][]byte
		for i := range perWave {
			raws = append(raws, firstContactMail(fmt.Sprintf("resident%d.%d@example.org", w, i)))
		}
		for _, raw := range raws {
			if _, err := r.dv.Append(rigUser, "INBOX", raw); err != nil {
				t.Fatal(err)
			}
		}
		before := len(r.sink.Messages())
		cmd, logs, exited := start()
		// Kill it while it sends: once this wave's replies start leaving,
		// at a random moment within the next 0.1-0.5 s.
		deadline := time.Now().Add(45 * time.Second)
		for len(r.sink.Messages()) == before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if len(r.sink.Messages()) == before {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("wave %d: no reply within 45 s\n%s", w, logs.String())
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-exited
		kills++
	}
	last := time.Now()
	cmd, logs, exited := start()
	defer func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("last optoutd run output:\n%s", logs.String())
		}
	}()

	want := waves * perWave
	var byID map[string][][]byte
	var perResident map[string]int
	count := func() {
		byID, perResident = map[string][][]byte{}, map[string]int{}
		for _, m := range r.sink.Messages() {
			msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
			if err != nil {
				t.Fatalf("a sent message does not parse: %v", err)
			}
			id := msg.Header.Get("Message-Id")
			byID[id] = append(byID[id], m.Raw)
			for _, to := range m.To {
				perResident[strings.ToLower(to)]++
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for count(); len(perResident) < want && ctx.Err() == nil; count() {
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(last)
	if len(perResident) < want {
		t.Fatalf("%d of %d residents answered within 60 s of the last start", len(perResident), want)
	}
	t.Logf("%d kills; every resident answered %v after the last start", kills, took.Round(time.Millisecond))
	extra := 0
	for id, copies := range byID {
		extra += len(copies) - 1
		for _, c := range copies[1:] {
			if !bytes.Equal(c, copies[0]) {
				t.Errorf("message %s was sent twice with different bytes", id)
			}
		}
	}
	if len(byID) != want {
		t.Errorf("%d distinct replies, want %d (one per resident)", len(byID), want)
	}
	if extra > kills {
		t.Errorf("%d extra copies after %d kills; want at most one per kill", extra, kills)
	}
	t.Logf("%d extra copies after %d kills", extra, kills)
}
