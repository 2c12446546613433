package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEvalLocomo runs `contextd eval locomo` on a tiny made-up conversation
// in the LoCoMo format and checks the recall it prints.
func TestEvalLocomo(t *testing.T) {
	dir := t.TempDir()
	conv := []map[string]any{{
		"conversation": map[string]any{
			"speaker_a": "Ann", "speaker_b": "Bob",
			"session_1_date_time": "1:00 pm on 8 May, 2023",
			"session_1": []map[string]any{
				{"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a puppy named Rex last week."},
				{"speaker": "Bob", "dia_id": "D1:2", "text": "My car broke down on the highway.", "blip_caption": "a photo of a red sedan"},
				{"speaker": "Ann", "dia_id": "D1:3", "text": "I started violin lessons on Tuesday."},
			},
		},
		"qa": []map[string]any{
			{"question": "What is the name of Ann's dog?", "answer": "Rex", "evidence": []string{"D1:1"}, "category": 4},
			{"question": "Which instrument does Ann play?", "answer": "violin", "evidence": []string{"D1:03"}, "category": 4},
			{"question": "What happened to Bob's vehicle?", "answer": "broke down", "evidence": []string{"D1:2; D1:2"}, "category": 1},
		},
	}}
	audit := []map[string]any{{"question_id": "locomo_0_qa2", "correct_evidence": []string{"D1:1"}}}
	for name, v := range map[string]any{"locomo10.json": conv, "audit-errors.json": audit} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	getenv := func(string) string { return "" }
	if err := run(context.Background(), []string{"eval", "locomo", dir}, getenv, &out, &errb); err != nil {
		t.Fatalf("eval: %v\n%s", err, errb.String())
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == "all" {
			lines[f[0]] = l
		}
	}
	for _, mode := range []string{"fulltext", "semantic", "hybrid"} {
		l, ok := lines[mode]
		if !ok {
			t.Fatalf("no %s line in\n%s", mode, out.String())
		}
		// With 3 turns, recall@5 is 1 for every question with the original
		// evidence. The corrected evidence of question 2 (D1:1) shares no word
		// with it: fulltext misses it, semantic and hybrid rank every turn.
		want := "1.000"
		if mode == "fulltext" {
			want = "0.667"
		}
		if f := strings.Fields(l); f[2] != "3" || f[4] != "1.000" || f[9] != want {
			t.Fatalf("%s: %q, want 3 questions with recall@5 1.000, corrected %s", mode, l, want)
		}
	}
	if err := run(context.Background(), []string{"eval", "nope", dir}, getenv, &out, &errb); err == nil {
		t.Fatal("eval of an unknown benchmark should fail")
	}
}

// TestReadLocomoTimes checks that the loader gives a session's turns its
// start time, one second apart in order, and no time when the date does not
// parse.
func TestReadLocomoTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locomo10.json")
	conv := []map[string]any{{
		"conversation": map[string]any{
			"session_1_date_time": "1:56 pm on 8 May, 2023",
			"session_1": []map[string]any{
				{"speaker": "Ann", "dia_id": "D1:1", "text": "hi"},
				{"speaker": "Bob", "dia_id": "D1:2", "text": "hello"},
			},
			"session_2_date_time": "sometime",
			"session_2":           []map[string]any{{"speaker": "Ann", "dia_id": "D2:1", "text": "bye"}},
		},
		"qa": []map[string]any{},
	}}
	b, _ := json.Marshal(conv)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	convs, err := readLocomo(path)
	if err != nil {
		t.Fatal(err)
	}
	turns := convs[0].turns
	start := time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC)
	if len(turns) != 3 || !turns[0].at.Equal(start) || !turns[1].at.Equal(start.Add(time.Second)) || !turns[2].at.IsZero() {
		t.Fatalf("turn times %v, %v, %v; want %v, one second later, and none", turns[0].at, turns[1].at, turns[2].at, start)
	}
	if turns[1].session != "session-1" || turns[2].session != "session-2" {
		t.Fatalf("sessions %q, %q", turns[1].session, turns[2].session)
	}
}
