package main_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	contextd "github.com/contextd/contextd/cmd/contextd"
	"go.yaml.in/yaml/v3"
)

// The deployment files, relative to this package.
const (
	repoRoot       = "../.."
	deployDir      = "../../deploy"
	configDir      = "../../config"
	dockerfilePath = "../../Dockerfile"
	composePath    = "../../deploy/compose/docker-compose.yml"
	k8sDir         = "../../deploy/k8s"
	systemdUnit    = "../../deploy/systemd/contextd.service"
	systemdEnv     = "../../deploy/systemd/contextd.env"
	promConfig     = "../../deploy/prometheus/prometheus.yml"
)

// yamlDocs decodes every document of a YAML file; duplicate keys are errors.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// TestDeployFilesParse: every YAML and JSON file under deploy/ and config/
// parses (YAML: every document, no duplicate keys; JSON: one value).
func TestDeployFilesParse(t *testing.T) {
	n := 0
	for _, root := range []string{deployDir, configDir} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(path) {
			case ".yml", ".yaml":
				n++
				if len(yamlDocs(t, path)) == 0 {
					t.Errorf("%s: no YAML document", path)
				}
			case ".json":
				n++
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				dec := json.NewDecoder(bytes.NewReader(b))
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Errorf("%s: %v", path, err)
				} else if _, err := dec.Token(); err != io.EOF {
					t.Errorf("%s: data after the JSON value", path)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 20 {
		t.Errorf("parsed only %d YAML/JSON files under deploy/ and config/", n)
	}
}

// TestConfigProfiles: every profile file exists, loads with no unknown key
// and no bad value, and docs/configuration.md documents every setting.
func TestConfigProfiles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(configDir, "*.json"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	profiles := contextd.Profiles()
	slices.Sort(names)
	slices.Sort(profiles)
	if !slices.Equal(names, profiles) {
		t.Errorf("config/ holds %v, the profiles are %v", names, profiles)
	}
	for _, p := range profiles {
		if _, err := contextd.ProfilePort(configDir, p); err != nil {
			t.Errorf("profile %s: %v", p, err)
		}
		// Complete: every setting that has a JSON key is spelled out, so a
		// profile shows everything it decides.
		b, err := os.ReadFile(filepath.Join(configDir, p+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]any
		if err := json.Unmarshal(b, &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range contextd.ProfileKeys() {
			if _, ok := keys[k]; !ok {
				t.Errorf("config/%s.json does not set %q (add it, with the value this profile wants)", p, k)
			}
		}
	}
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range contextd.SettingNames() {
		if !bytes.Contains(doc, []byte("`"+name+"`")) {
			t.Errorf("docs/configuration.md does not document %s", name)
		}
	}
}

// envNames are the variables a deployment file sets for contextd, each with
// where it was found.
type envNames map[string][]string

func (e envNames) add(name, where string) { e[name] = append(e[name], where) }

var (
	envLine    = regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=`)
	substition = regexp.MustCompile(`\$\(([A-Z][A-Z0-9_]*)\)`)
)

// envFile adds the NAME= lines of a KEY=VALUE file, commented-out ones too
// (they are suggestions to uncomment).
func (e envNames) envFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if m := envLine.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			e.add(m[1], path)
		}
	}
}

// walk calls f on every map inside v.
func walk(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, x := range v {
			walk(x, f)
		}
	case []any:
		for _, x := range v {
			walk(x, f)
		}
	}
}

// contextdContainers returns the containers named contextd in the k8s
// manifests (Deployments, the backup CronJob, and patches of them).
func contextdContainers(t *testing.T) (containers []map[string]any, files []string) {
	t.Helper()
	err := filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		for _, doc := range yamlDocs(t, path) {
			walk(doc, func(m map[string]any) {
				for _, key := range []string{"containers", "initContainers"} {
					list, _ := m[key].([]any)
					for _, c := range list {
						if c, ok := c.(map[string]any); ok && c["name"] == "contextd" {
							containers = append(containers, c)
							files = append(files, path)
						}
					}
				}
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return containers, files
}

// manifestEnv collects every variable the deployment files set for contextd.
func manifestEnv(t *testing.T) envNames {
	t.Helper()
	e := envNames{}
	// systemd: Environment= lines of the unit (commented ones too) and the
	// EnvironmentFile template.
	b, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		if rest, ok := strings.CutPrefix(line, "Environment="); ok {
			for _, kv := range strings.Fields(rest) {
				if m := envLine.FindStringSubmatch(strings.Trim(kv, `"`)); m != nil {
					e.add(m[1], systemdUnit)
				}
			}
		}
	}
	e.envFile(t, systemdEnv)
	// Dockerfile: ENV of the final stage.
	df := dockerfile(t)
	for _, ins := range df.final {
		if ins.cmd == "ENV" {
			for _, kv := range strings.Fields(ins.args) {
				if m := envLine.FindStringSubmatch(kv); m != nil {
					e.add(m[1], dockerfilePath)
				}
			}
		}
	}
	// Compose: the contextd service's environment.
	compose := yamlDocs(t, composePath)[0]
	svc := compose["services"].(map[string]any)["contextd"].(map[string]any)
	for name := range svc["environment"].(map[string]any) {
		e.add(name, composePath)
	}
	// Kubernetes: the env files of the ConfigMap generators, the generators'
	// literals, and the env of every contextd container.
	_ = filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".env" {
			e.envFile(t, path)
		}
		if err == nil && d.Name() == "kustomization.yaml" {
			for _, doc := range yamlDocs(t, path) {
				gens, _ := doc["configMapGenerator"].([]any)
				for _, g := range gens {
					g := g.(map[string]any)
					if g["name"] != "contextd-config" {
						continue
					}
					lits, _ := g["literals"].([]any)
					for _, l := range lits {
						if m := envLine.FindStringSubmatch(l.(string)); m != nil {
							e.add(m[1], path)
						}
					}
				}
			}
		}
		return err
	})
	containers, files := contextdContainers(t)
	for i, c := range containers {
		// A variable only used for $(NAME) substitution in the container's
		// own command or args is not configuration.
		used := map[string]bool{}
		for _, key := range []string{"command", "args"} {
			list, _ := c[key].([]any)
			for _, a := range list {
				for _, m := range substition.FindAllStringSubmatch(a.(string), -1) {
					used[m[1]] = true
				}
			}
		}
		env, _ := c["env"].([]any)
		for _, v := range env {
			name := v.(map[string]any)["name"].(string)
			if !used[name] {
				e.add(name, files[i])
			}
		}
	}
	return e
}

// TestManifestSettingsExist: every environment variable a deployment file
// sets for contextd is one contextd reads.
func TestManifestSettingsExist(t *testing.T) {
	known := contextd.EnvNames()
	e := manifestEnv(t)
	if len(e) < 15 {
		t.Fatalf("found only %d variables in the deployment files: %v", len(e), e)
	}
	for name, where := range e {
		if !slices.Contains(known, name) {
			t.Errorf("%s (set in %s) is not a contextd setting", name, strings.Join(slices.Compact(where), ", "))
		}
	}
	// The secrets are never plain values in the Kubernetes ConfigMap: only
	// their _FILE paths.
	for _, name := range []string{"JWT_SECRET", "NEO4J_PASSWORD", "METRICS_TOKEN", "LLM_API_KEY"} {
		for _, where := range e[name] {
			if strings.Contains(where, "k8s") {
				t.Errorf("secret %s is set in %s: mount it and set %s_FILE instead", name, where, name)
			}
		}
	}
}

// dockerInstruction is one instruction of the Dockerfile, continuation lines
// joined.
type dockerInstruction struct{ cmd, args string }

type parsedDockerfile struct {
	args  map[string]string   // ARG defaults, every stage
	final []dockerInstruction // the instructions of the last stage
	all   []dockerInstruction
}

func dockerfile(t *testing.T) parsedDockerfile {
	t.Helper()
	b, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	df := parsedDockerfile{args: map[string]string{}}
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		cur += trimmed
		cmd, rest, _ := strings.Cut(cur, " ")
		ins := dockerInstruction{strings.ToUpper(cmd), strings.TrimSpace(rest)}
		cur = ""
		df.all = append(df.all, ins)
		switch ins.cmd {
		case "FROM":
			df.final = nil
		case "ARG":
			if k, v, ok := strings.Cut(ins.args, "="); ok {
				df.args[k] = v
			}
		}
		df.final = append(df.final, ins)
	}
	return df
}

// probe is an HTTP path a deployment file sends to contextd.
type probe struct{ where, path string }

// manifestProbes collects the probe and scrape paths of every deployment
// file, and the port each one expects contextd on.
func manifestProbes(t *testing.T) (probes []probe, ports map[string]int) {
	t.Helper()
	ports = map[string]int{}
	// Kubernetes: httpGet probes of the contextd containers; their named
	// ports; the ServiceMonitor's path.
	containers, files := contextdContainers(t)
	for i, c := range containers {
		portNames := map[string]int{}
		if list, ok := c["ports"].([]any); ok {
			for _, p := range list {
				p := p.(map[string]any)
				portNames[p["name"].(string)] = p["containerPort"].(int)
				ports[files[i]+" containerPort "+p["name"].(string)] = p["containerPort"].(int)
			}
		}
		for _, kind := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
			p, ok := c[kind].(map[string]any)
			if !ok {
				continue
			}
			get, ok := p["httpGet"].(map[string]any)
			if !ok {
				t.Errorf("%s: %s of contextd is not an httpGet probe", files[i], kind)
				continue
			}
			probes = append(probes, probe{files[i] + " " + kind, get["path"].(string)})
			switch port := get["port"].(type) {
			case int:
				ports[files[i]+" "+kind] = port
			case string:
				if n, ok := portNames[port]; ok {
					ports[files[i]+" "+kind] = n
				} else {
					t.Errorf("%s: %s names port %q, not a port of the container", files[i], kind, port)
				}
			}
		}
	}
	_ = filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		for _, doc := range yamlDocs(t, path) {
			if doc["kind"] == "ServiceMonitor" {
				for _, ep := range doc["spec"].(map[string]any)["endpoints"].([]any) {
					probes = append(probes, probe{path + " ServiceMonitor", ep.(map[string]any)["path"].(string)})
				}
			}
		}
		return nil
	})
	// Prometheus: metrics_path and the static target's port.
	for _, sc := range yamlDocs(t, promConfig)[0]["scrape_configs"].([]any) {
		sc := sc.(map[string]any)
		if sc["job_name"] != "contextd" {
			continue
		}
		probes = append(probes, probe{promConfig, sc["metrics_path"].(string)})
		for _, st := range sc["static_configs"].([]any) {
			for _, target := range st.(map[string]any)["targets"].([]any) {
				_, port, _ := strings.Cut(target.(string), ":")
				n, _ := strconv.Atoi(port)
				ports[promConfig+" target"] = n
			}
		}
	}
	// Compose and the Dockerfile probe with "contextd healthcheck".
	compose := yamlDocs(t, composePath)[0]["services"].(map[string]any)["contextd"].(map[string]any)
	var test []string
	for _, a := range compose["healthcheck"].(map[string]any)["test"].([]any) {
		test = append(test, a.(string))
	}
	probes = append(probes, probe{composePath + " healthcheck", healthcheckPath(t, composePath, test)})
	for _, p := range compose["ports"].([]any) {
		s := p.(string)
		n, _ := strconv.Atoi(s[strings.LastIndex(s, ":")+1:])
		ports[composePath+" ports"] = n
	}
	df := dockerfile(t)
	for _, ins := range df.final {
		switch ins.cmd {
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(ins.args, "CMD ")
			var argv []string
			if !ok || json.Unmarshal([]byte(cmd), &argv) != nil {
				t.Fatalf("Dockerfile: HEALTHCHECK %q is not CMD [exec form]", ins.args)
			}
			probes = append(probes, probe{dockerfilePath + " HEALTHCHECK", healthcheckPath(t, dockerfilePath, argv)})
		case "EXPOSE":
			n, _ := strconv.Atoi(strings.TrimSuffix(ins.args, "/tcp"))
			ports[dockerfilePath+" EXPOSE"] = n
		}
	}
	return probes, ports
}

// healthcheckPath is the path "contextd healthcheck [--ready]" probes.
func healthcheckPath(t *testing.T, where string, argv []string) string {
	t.Helper()
	if argv[0] == "CMD" {
		argv = argv[1:]
	}
	if len(argv) < 2 || filepath.Base(argv[0]) != "contextd" || argv[1] != "healthcheck" {
		t.Fatalf("%s: the healthcheck %q is not \"contextd healthcheck\" (the image has no shell or curl)", where, argv)
	}
	if slices.Contains(argv, "--ready") {
		return "/health/ready"
	}
	return "/health"
}

// TestManifestProbesAndPorts starts the real server and asks it every path
// the deployment files probe or scrape, and checks that every port they
// expect is the port the server listens on with their configuration.
func TestManifestProbesAndPorts(t *testing.T) {
	probes, ports := manifestProbes(t)
	if len(probes) < 6 || len(ports) < 6 {
		t.Fatalf("found only %d probes and %d ports: %v %v", len(probes), len(ports), probes, ports)
	}
	s := start(t, t.TempDir())
	for _, p := range probes {
		r := s.do(http.MethodGet, p.path, "", nil)
		if r.status != http.StatusOK {
			t.Errorf("%s probes %s: the server answers %d", p.where, p.path, r.status)
		}
	}

	// Every deployment runs the docker profile on its PORT (the Kubernetes
	// ConfigMap sets PORT itself; it must agree).
	want, err := contextd.ProfilePort(configDir, "docker")
	if err != nil {
		t.Fatal(err)
	}
	k8sEnv := envNames{}
	k8sEnv.envFile(t, filepath.Join(k8sDir, "base", "contextd.env"))
	b, _ := os.ReadFile(filepath.Join(k8sDir, "base", "contextd.env"))
	if m := regexp.MustCompile(`(?m)^PORT=(\d+)$`).FindSubmatch(b); m != nil {
		if n, _ := strconv.Atoi(string(m[1])); n != want {
			t.Errorf("deploy/k8s/base/contextd.env sets PORT=%d, the docker profile %d", n, want)
		}
	}
	for where, port := range ports {
		if port != want {
			t.Errorf("%s expects contextd on port %d; it listens on %d", where, port, want)
		}
	}
}

// TestHealthcheckCommand: the image's HEALTHCHECK command succeeds against
// a serving contextd and fails when nothing answers.
func TestHealthcheckCommand(t *testing.T) {
	s := start(t, t.TempDir())
	dir := t.TempDir()
	for _, args := range [][]string{{"--url", s.url}, {"--url", s.url, "--ready"}} {
		if out, errOut, err := cli(t, dir, nil, append([]string{"healthcheck"}, args...)...); err != nil || !strings.HasPrefix(out, "ok ") {
			t.Errorf("healthcheck %v: %v\n%s%s", args, err, out, errOut)
		}
	}
	// HOST and PORT from the environment, as in the container.
	_, port, _ := strings.Cut(strings.TrimPrefix(s.url, "http://"), ":")
	cmd := exec.Command(binary, "healthcheck")
	cmd.Dir = dir
	cmd.Env = []string{"APP_ENV=test", "HOST=0.0.0.0", "PORT=" + port}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("healthcheck with HOST=0.0.0.0 PORT=%s: %v\n%s", port, err, out)
	}
	s.stop()
	_, errOut, err := cli(t, dir, nil, "healthcheck", "--url", s.url, "--timeout", "2s")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errOut, "healthcheck") {
		t.Errorf("healthcheck of a stopped server: err %v, stderr %q; want exit status 1", err, errOut)
	}
}

// TestDockerfileBuildFlags builds contextd with the exact environment and
// flags of the Dockerfile's go build line and checks the result is a
// static binary that knows its version.
func TestDockerfileBuildFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds contextd once more")
	}
	df := dockerfile(t)
	var line string
	for _, ins := range df.all {
		if ins.cmd == "RUN" && strings.Contains(ins.args, "go build") {
			line = ins.args
		}
	}
	if line == "" {
		t.Fatal("Dockerfile: no RUN ... go build line")
	}
	words := shellWords(t, line)
	for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
		words = words[1:]
	}
	args := map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH, "VERSION": "v9.8.7-dockerfile"}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string {
			if v, ok := args[k]; ok {
				return v
			}
			if v, ok := df.args[k]; ok {
				return v
			}
			t.Fatalf("Dockerfile: ${%s} is not an ARG", k)
			return ""
		})
	}
	var env []string
	for len(words) > 0 && envLine.MatchString(words[0]) {
		env = append(env, expand(words[0]))
		words = words[1:]
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile: the build must set CGO_ENABLED=0 (got %v)", env)
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("Dockerfile: cannot read the build command %q", line)
	}
	out := filepath.Join(t.TempDir(), "contextd")
	var argv []string
	for i := 2; i < len(words); i++ {
		w := expand(words[i])
		if w == "-o" {
			argv = append(argv, "-o", out)
			i++
			continue
		}
		argv = append(argv, w)
	}
	if !slices.Contains(argv, "-o") {
		t.Fatalf("Dockerfile: the build has no -o")
	}
	cmd := exec.Command("go", append([]string{"build"}, argv...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v with %v: %v\n%s", argv, env, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the Dockerfile's build is dynamically linked (PT_INTERP): it cannot run on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the Dockerfile's build needs shared libraries %v", libs)
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "contextd v9.8.7-dockerfile" {
		t.Errorf("contextd version = %q, %v; want the VERSION build argument", v, err)
	}
	// The image's paths agree: the binary where ENTRYPOINT and HEALTHCHECK
	// run it, the profiles where CONFIG_DIR points.
	var entry, copies, envs string
	for _, ins := range df.final {
		switch ins.cmd {
		case "ENTRYPOINT":
			entry = ins.args
		case "COPY":
			copies += ins.args + "\n"
		case "ENV":
			envs += ins.args + " "
		}
	}
	var ep []string
	if err := json.Unmarshal([]byte(entry), &ep); err != nil || len(ep) != 1 {
		t.Fatalf("Dockerfile: ENTRYPOINT %q is not [\"/path/to/contextd\"]", entry)
	}
	if !strings.Contains(copies, "/out/contextd "+ep[0]) {
		t.Errorf("Dockerfile: ENTRYPOINT %s is not where the binary is copied (%q)", ep[0], copies)
	}
	m := regexp.MustCompile(`CONFIG_DIR=(\S+)`).FindStringSubmatch(envs)
	if m == nil || !strings.Contains(copies, "config/ "+strings.TrimSuffix(m[1], "/")+"/") {
		t.Errorf("Dockerfile: CONFIG_DIR (%v) is not where config/ is copied (%q)", m, copies)
	}
}

// shellWords splits a shell command line on blanks, honouring double and
// single quotes (enough for the Dockerfile's RUN line).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote, inWord := false, byte(0), false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == quote:
			in = false
		case in:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			in, quote, inWord = true, c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if in {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestSystemdUnit: systemd itself accepts the unit without a warning (every
// key known, every value parsed) and rates its exposure at most 2.0 of 10.
// Skipped where systemd-analyze is not installed.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	b, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("ExecStart=/usr/local/bin/contextd serve\n")) {
		t.Fatal("contextd.service: ExecStart is not /usr/local/bin/contextd serve")
	}
	// verify wants the ExecStart binary to exist: point it at the test build.
	unit := filepath.Join(t.TempDir(), "contextd.service")
	b = bytes.Replace(b, []byte("ExecStart=/usr/local/bin/contextd"), []byte("ExecStart="+binary), 1)
	if err := os.WriteFile(unit, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=20", unit).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security rates the unit above 2.0: %v\n%s", err, out)
	}
}

// TestRunbookCoversEveryAlert: docs/operations.md has a section (a "### "
// heading naming it) for every Prometheus alert of deploy/prometheus/alerts.yml
// and every rule of the health monitor (the table in monitor's package doc).
func TestRunbookCoversEveryAlert(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, line := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			headings = append(headings, h)
		}
	}
	var alerts []string
	for _, g := range yamlDocs(t, filepath.Join(deployDir, "prometheus", "alerts.yml"))[0]["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			if a, ok := r.(map[string]any)["alert"].(string); ok {
				alerts = append(alerts, a)
			}
		}
	}
	src, err := os.ReadFile(filepath.Join(repoRoot, "monitor", "monitor.go"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, m := range regexp.MustCompile(`(?m)^//\t(?:critical|warning|info)\s+([a-z_, ]+?)\s{2,}`).FindAllStringSubmatch(string(src), -1) {
		for _, r := range strings.Split(m[1], ",") {
			rules = append(rules, strings.TrimSpace(r))
		}
	}
	if len(alerts) < 10 || len(rules) < 10 {
		t.Fatalf("found %d alerts and %d monitor rules; the parsers are out of date", len(alerts), len(rules))
	}
	word := func(h, name string) bool {
		return regexp.MustCompile(`(^|[^A-Za-z_])` + regexp.QuoteMeta(name) + `($|[^A-Za-z_])`).MatchString(h)
	}
	for _, name := range append(alerts, rules...) {
		if !slices.ContainsFunc(headings, func(h string) bool { return word(h, name) }) {
			t.Errorf("docs/operations.md has no \"### ...%s...\" section", name)
		}
	}
}

// deploymentEnv reads the NAME=value pairs a deployment gives contextd.
func readEnvFile(t *testing.T, path string, commented bool) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") && !commented {
			continue
		}
		if m := envLine.FindStringSubmatch(line); m != nil {
			_, v, _ := strings.Cut(line, "=")
			out[m[1]] = v
		}
	}
	return out
}

// TestDeploymentEnvStarts starts the real server with the environment each
// deployment gives it (the values, not only the names), on the embedded
// store in a temporary folder and a free port, with every *_FILE pointing at
// a freshly written secret: the settings must pass validation, the server
// must become ready, and /metrics must accept the metrics token when the
// deployment sets one.
func TestDeploymentEnvStarts(t *testing.T) {
	cfgDir, err := filepath.Abs(configDir)
	if err != nil {
		t.Fatal(err)
	}
	k8s := readEnvFile(t, filepath.Join(k8sDir, "base", "contextd.env"), false)
	compose := map[string]string{}
	svc := yamlDocs(t, composePath)[0]["services"].(map[string]any)["contextd"].(map[string]any)
	interp := regexp.MustCompile(`\$\{[A-Z_]+(?::?-([^}]*)|:?\?[^}]*)?\}`)
	for k, v := range svc["environment"].(map[string]any) {
		s := fmt.Sprint(v)
		s = interp.ReplaceAllStringFunc(s, func(m string) string {
			if sub := interp.FindStringSubmatch(m); strings.Contains(m, "-") {
				return sub[1]
			}
			return "compose-secret-value-compose-secret-value" // a required variable
		})
		compose[k] = s
	}
	systemd := map[string]string{}
	b, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Environment="); ok {
			k, v, _ := strings.Cut(rest, "=")
			systemd[k] = v
		}
	}
	for k, v := range readEnvFile(t, systemdEnv, false) {
		systemd[k] = v
	}

	deployments := map[string]map[string]string{"kubernetes": k8s, "compose": compose, "systemd": systemd}
	for _, overlay := range []string{"staging", "production"} {
		env := maps.Clone(k8s)
		for _, doc := range yamlDocs(t, filepath.Join(k8sDir, "overlays", overlay, "kustomization.yaml")) {
			gens, _ := doc["configMapGenerator"].([]any)
			for _, g := range gens {
				lits, _ := g.(map[string]any)["literals"].([]any)
				for _, l := range lits {
					k, v, _ := strings.Cut(l.(string), "=")
					env[k] = v
				}
			}
		}
		deployments["kubernetes-"+overlay] = env
	}
	for name, env := range deployments {
		t.Run(name, func(t *testing.T) {
			if len(env) < 3 {
				t.Fatalf("read only %v", env)
			}
			dir := t.TempDir()
			secret := "s3cret-" + strings.Repeat("x", 40)
			var list []string
			for k, v := range env {
				if strings.HasSuffix(k, "_FILE") && v != "" { // empty: the setting is off
					v = filepath.Join(dir, k)
					if err := os.WriteFile(v, []byte(secret+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				list = append(list, k+"="+v)
			}
			// The machine's own parts: a free port on loopback, temporary
			// folders, the embedded store (no Neo4j needed), the profiles.
			// Redis: the test's own when REDIS_URL is set (CI), else none
			// (the rate limits stay in process, the read cache off).
			list = append(list, "HOST=127.0.0.1", "PORT=0", "STORE=sqlite", "CONFIG_DIR="+cfgDir,
				"BACKUP_DIRECTORY="+filepath.Join(dir, "backups"), "REDIS_URL="+os.Getenv("REDIS_URL"))
			s := start(t, filepath.Join(dir, "data"), list...)
			if r := s.do(http.MethodGet, "/health/ready", "", nil); r.status != http.StatusOK {
				t.Errorf("/health/ready: %d %s\n%s", r.status, r.raw, s.log())
			}
			_, tokenFile := env["METRICS_TOKEN_FILE"]
			if tok := env["METRICS_TOKEN"]; tok != "" || tokenFile {
				if tokenFile {
					tok = secret
				}
				if r := s.do(http.MethodGet, "/metrics", "", nil); r.status != http.StatusUnauthorized {
					t.Errorf("/metrics without the token: %d, want 401", r.status)
				}
				if r := s.do(http.MethodGet, "/metrics", tok, nil); r.status != http.StatusOK {
					t.Errorf("/metrics with the token: %d, want 200", r.status)
				}
			}
		})
	}
}

// TestKubernetesConfigMapHasEverySetting: the Kubernetes ConfigMap wires
// every setting, a secret through its NAME_FILE.
func TestKubernetesConfigMapHasEverySetting(t *testing.T) {
	env := readEnvFile(t, filepath.Join(k8sDir, "base", "contextd.env"), false)
	for _, name := range contextd.SettingNames() {
		_, plain := env[name]
		_, file := env[name+"_FILE"]
		if !plain && !file {
			t.Errorf("deploy/k8s/base/contextd.env does not set %s (or %s_FILE)", name, name)
		}
	}
}
