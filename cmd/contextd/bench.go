package main

import (
	"context"
	"io"

	"github.com/contextd/contextd/bench"
)

// runBench is "contextd bench", the load generator (see package bench).
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return bench.RunEnv(ctx, args, getenv, stdout, stderr)
}
