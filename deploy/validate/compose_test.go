package validate_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "../compose/docker-compose.yml"

func loadCompose(t *testing.T, env []string, profiles ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithName("contextd"),
		cli.WithEnv(env),
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// TestCompose loads the Compose file as docker compose does (schema
// validation, interpolation, consistency of references) and checks the
// start order and the contextd service's hardening.
func TestCompose(t *testing.T) {
	env := []string{"NEO4J_PASSWORD=secret-secret", "GRAFANA_ADMIN_PASSWORD=admin-admin"}
	p, err := loadCompose(t, env, "monitoring")
	if err != nil {
		t.Fatalf("docker compose config would fail: %v", err)
	}
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"alertmanager", "contextd", "grafana", "neo4j", "prometheus", "redis"}; !slices.Equal(names, want) {
		t.Errorf("services with --profile monitoring: %v, want %v", names, want)
	}
	for _, s := range p.Services {
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", s.Name)
		}
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("service %s waits for %s with condition %q, want service_healthy", s.Name, dep, d.Condition)
			}
		}
	}
	c := p.Services["contextd"]
	if !c.ReadOnly || c.User == "" || c.User == "0" || !slices.Contains(c.CapDrop, "ALL") {
		t.Errorf("contextd: want read_only, a non-root user and cap_drop ALL; got read_only=%v user=%q cap_drop=%v", c.ReadOnly, c.User, c.CapDrop)
	}
	if got := c.Environment["APP_ENV"]; got == nil || *got != "docker" {
		t.Errorf("contextd: APP_ENV = %v, want docker", got)
	}
	mounts := map[string]bool{}
	for _, v := range c.Volumes {
		if v.Type == types.VolumeTypeVolume {
			mounts[v.Target] = true
		}
	}
	if !mounts["/data"] || !mounts["/backups"] {
		t.Errorf("contextd: want named volumes on /data and /backups, got %v", c.Volumes)
	}
	for _, dep := range []string{"neo4j", "redis"} {
		if _, ok := c.DependsOn[dep]; !ok {
			t.Errorf("contextd does not wait for %s", dep)
		}
	}

	// Without the monitoring profile only the application stack starts.
	p, err = loadCompose(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if names := p.ServiceNames(); len(names) != 3 {
		t.Errorf("services without a profile: %v, want contextd, neo4j, redis", names)
	}

	// The Neo4j password is required, never defaulted.
	if _, err := loadCompose(t, []string{"GRAFANA_ADMIN_PASSWORD=x"}); err == nil || !strings.Contains(err.Error(), "NEO4J_PASSWORD") {
		t.Errorf("loading without NEO4J_PASSWORD: err = %v, want one naming NEO4J_PASSWORD", err)
	}
}
