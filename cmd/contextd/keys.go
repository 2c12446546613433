package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/contextd/contextd"
)

func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"keys needs a sub-command: create, list or revoke"}
	}
	sub, args := args[0], args[1:]
	fset := newFlagSet("keys "+sub, stderr)
	var (
		tenant  = fset.String("tenant", "", "tenant of the key")
		role    = fset.String("role", "", "reader, writer or admin")
		name    = fset.String("name", "", "a name for the key (the default userId of data it writes)")
		user    = fset.String("user", "", "bind the key to one user id (uid): it sees and writes only that user's data")
		expires = fset.String("expires", "", "lifetime, e.g. 720h or 30d (default: never expires)")
		asJSON  = fset.Bool("json", false, "list as JSON")
		scopes  = fset.String("scopes", "", "narrow the role to these permissions, comma-separated (e.g. contexts:read,search)")
	)
	switch sub {
	case "create", "list", "revoke":
	default:
		return usageError{fmt.Sprintf("unknown keys sub-command %q (want create, list or revoke)", sub)}
	}
	cfg, err := loadConfig(fset, args, getenv)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer store.Close()
	svc := contextd.NewService(store)

	switch sub {
	case "create":
		if *tenant == "" || *role == "" {
			return usageError{"keys create needs --tenant and --role"}
		}
		var ttl time.Duration
		if *expires != "" {
			if ttl, err = parseLifetime(*expires); err != nil {
				return usageError{"--expires: " + err.Error()}
			}
		}
		perms, err := contextd.ParsePermissions(*scopes)
		if err != nil {
			return usageError{"--scopes: " + contextd.ErrorMessage(err)}
		}
		_, key, err := svc.NewAPIKey(ctx, contextd.KeyCreate{Tenant: *tenant, Role: contextd.Role(*role), Name: *name, UserID: *user, ExpiresIn: ttl, Scopes: perms})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key)
		return nil
	case "list":
		keys, err := store.FindAPIKeys(ctx, *tenant)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if keys == nil {
				keys = []*contextd.APIKey{}
			}
			return enc.Encode(keys)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tROLE\tNAME\tUID\tPREFIX\tCREATED\tEXPIRES\tSTATE")
		now := time.Now()
		for _, k := range keys {
			exp, state := "-", "active"
			if k.ExpiresAt != nil {
				exp = k.ExpiresAt.UTC().Format(time.RFC3339)
			}
			switch {
			case k.RevokedAt != nil:
				state = "revoked"
			case !k.Active(now):
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Role, k.Name, dash(k.UserID),
				k.Prefix+"…", k.CreatedAt.UTC().Format(time.RFC3339), exp, state)
		}
		return tw.Flush()
	default: // revoke
		if fset.NArg() != 1 {
			return usageError{"keys revoke needs exactly one key ID"}
		}
		if err := store.RevokeAPIKey(ctx, *tenant, fset.Arg(0), time.Now().UTC()); err != nil {
			return err
		}
		if err := auditCLIRevoke(ctx, svc, *tenant, fset.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "revoked", fset.Arg(0))
		return nil
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseLifetime reads a Go duration or a number of days ("30d").
func parseLifetime(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("must be a positive duration such as 720h or 30d (got %q)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		return 0, fmt.Errorf("must be a positive duration such as 720h or 30d (got %q)", s)
	}
	return dur, nil
}
