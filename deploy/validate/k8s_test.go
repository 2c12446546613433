package validate_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "regenerate deploy/k8s/base/prometheusrule.yaml and the dashboard copy")

const k8sDir = "../k8s"

// newObject returns the typed struct a rendered resource must decode into.
func newObject(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}
	case "batch/v1/CronJob":
		return &batchv1.CronJob{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	}
	return nil
}

// rendered is one overlay's output, decoded.
type rendered struct {
	objects []any
	byKind  map[string]map[string]any // kind → name → object
}

// render builds a kustomization in-process and decodes every resource
// strictly (unknown or duplicate fields are errors).
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := &rendered{byKind: map[string]map[string]any{}}
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj := newObject(r.GetApiVersion(), r.GetKind())
		if obj == nil {
			t.Errorf("%s: %s %s/%s has no known type to validate against", dir, r.GetApiVersion(), r.GetKind(), r.GetName())
			continue
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			t.Errorf("%s: %s %s does not match its schema: %v", dir, r.GetKind(), r.GetName(), err)
			continue
		}
		out.objects = append(out.objects, obj)
		if out.byKind[r.GetKind()] == nil {
			out.byKind[r.GetKind()] = map[string]any{}
		}
		out.byKind[r.GetKind()][r.GetName()] = obj
	}
	return out
}

// podTemplates lists the pod templates of the workloads, by workload name.
func (r *rendered) podTemplates() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for name, o := range r.byKind["Deployment"] {
		out["Deployment/"+name] = &o.(*appsv1.Deployment).Spec.Template
	}
	for name, o := range r.byKind["StatefulSet"] {
		out["StatefulSet/"+name] = &o.(*appsv1.StatefulSet).Spec.Template
	}
	for name, o := range r.byKind["CronJob"] {
		out["CronJob/"+name] = &o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template
	}
	return out
}

// outOfBand are the Secrets an operator creates before the first deploy
// (docs/operations.md); every other reference must resolve inside the build.
var outOfBand = map[string][]string{
	"contextd-secrets": {"jwt-secret", "metrics-token", "neo4j-password", "llm-api-key"},
	"neo4j-auth":       {"NEO4J_AUTH"},
	"contextd-tls":     nil,
}

func TestOverlays(t *testing.T) {
	for _, overlay := range []string{"base", "overlays/staging", "overlays/production"} {
		t.Run(overlay, func(t *testing.T) {
			r := render(t, filepath.Join(k8sDir, overlay))
			if t.Failed() {
				return
			}
			checkWorkloads(t, r)
			checkServices(t, r)
			checkBlueGreen(t, r)
			checkReferences(t, r)
			if overlay != "base" {
				checkNamespaced(t, r, overlay)
			}
		})
	}
}

// checkWorkloads: selectors match their templates; every container runs as
// non-root with a read-only root, drops every capability and has limits;
// probes name a port the container declares.
func checkWorkloads(t *testing.T, r *rendered) {
	t.Helper()
	for name, o := range r.byKind["Deployment"] {
		d := o.(*appsv1.Deployment)
		sel, err := metaSelector(d.Spec.Selector.MatchLabels)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: selector %v does not match its template's labels %v", name, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
		}
	}
	for name, o := range r.byKind["StatefulSet"] {
		s := o.(*appsv1.StatefulSet)
		if !labels.SelectorFromSet(s.Spec.Selector.MatchLabels).Matches(labels.Set(s.Spec.Template.Labels)) {
			t.Errorf("StatefulSet %s: selector does not match its template", name)
		}
		if len(s.Spec.VolumeClaimTemplates) == 0 {
			t.Errorf("StatefulSet %s: no persistent volume claims", name)
		}
	}
	for wl, tpl := range r.podTemplates() {
		ps := tpl.Spec.SecurityContext
		if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil {
			t.Errorf("%s: pod security context must set runAsNonRoot and a seccomp profile", wl)
		}
		for _, c := range slices.Concat(tpl.Spec.InitContainers, tpl.Spec.Containers) {
			where := wl + " container " + c.Name
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s: must set allowPrivilegeEscalation=false and drop ALL capabilities", where)
			}
			if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Memory().IsZero() {
				t.Errorf("%s: needs memory requests and limits", where)
			}
			if c.Image == "contextd" {
				t.Errorf("%s: image %q was not replaced by the kustomization's images", where, c.Image)
			}
			if strings.HasPrefix(c.Image, "ghcr.io/contextd/contextd") {
				if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					t.Errorf("%s: contextd runs with a read-only root file system", where)
				}
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			for kind, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
				if p == nil {
					continue
				}
				var port *corev1.ProbeHandler = &p.ProbeHandler
				switch {
				case port.HTTPGet != nil && port.HTTPGet.Port.StrVal != "":
					if _, ok := ports[port.HTTPGet.Port.StrVal]; !ok {
						t.Errorf("%s: %s probe names port %q the container does not declare", where, kind, port.HTTPGet.Port.StrVal)
					}
				case port.TCPSocket != nil && port.TCPSocket.Port.StrVal != "":
					if _, ok := ports[port.TCPSocket.Port.StrVal]; !ok {
						t.Errorf("%s: %s probe names port %q the container does not declare", where, kind, port.TCPSocket.Port.StrVal)
					}
				}
			}
		}
	}
}

func metaSelector(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("empty selector")
	}
	return labels.SelectorFromSet(m), nil
}

// checkServices: every Service selects the pods of some workload, on a port
// those pods declare.
func checkServices(t *testing.T, r *rendered) {
	t.Helper()
	for name, o := range r.byKind["Service"] {
		svc := o.(*corev1.Service)
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		matched := false
		for _, tpl := range r.podTemplates() {
			if !sel.Matches(labels.Set(tpl.Labels)) {
				continue
			}
			matched = true
			for _, sp := range svc.Spec.Ports {
				if sp.TargetPort.StrVal == "" {
					continue
				}
				found := false
				for _, c := range tpl.Spec.Containers {
					for _, cp := range c.Ports {
						found = found || cp.Name == sp.TargetPort.StrVal
					}
				}
				if !found {
					t.Errorf("Service %s: targetPort %q is not a port of the pods it selects", name, sp.TargetPort.StrVal)
				}
			}
		}
		if !matched {
			t.Errorf("Service %s: selector %v matches no pod template", name, svc.Spec.Selector)
		}
	}
	for name, o := range r.byKind["Ingress"] {
		ing := o.(*networkingv1.Ingress)
		if len(ing.Spec.TLS) == 0 {
			t.Errorf("Ingress %s: no TLS", name)
		}
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if _, ok := r.byKind["Service"][p.Backend.Service.Name]; !ok {
					t.Errorf("Ingress %s: backend Service %q is not part of the build", name, p.Backend.Service.Name)
				}
			}
		}
	}
	for name, o := range r.byKind["ServiceMonitor"] {
		sm := o.(*monitoringv1.ServiceMonitor)
		sel := labels.SelectorFromSet(sm.Spec.Selector.MatchLabels)
		n := 0
		for _, so := range r.byKind["Service"] {
			if sel.Matches(labels.Set(so.(*corev1.Service).Labels)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("ServiceMonitor %s selects %d Services; want exactly one (contextd-metrics)", name, n)
		}
	}
}

// checkBlueGreen: two Deployments, one per slot; the live Service selects
// exactly one slot and the preview Service the other; the HPA scales a
// Deployment of the build.
func checkBlueGreen(t *testing.T, r *rendered) {
	t.Helper()
	slots := map[string]string{}
	for name, o := range r.byKind["Deployment"] {
		if slot := o.(*appsv1.Deployment).Spec.Template.Labels["contextd.io/slot"]; slot != "" {
			slots[slot] = name
		}
	}
	if slots["blue"] == "" || slots["green"] == "" {
		t.Fatalf("want a blue and a green Deployment, got %v", slots)
	}
	live := r.byKind["Service"]["contextd"].(*corev1.Service).Spec.Selector["contextd.io/slot"]
	preview := r.byKind["Service"]["contextd-preview"].(*corev1.Service).Spec.Selector["contextd.io/slot"]
	if live == "" || preview == "" || live == preview {
		t.Errorf("the live Service selects slot %q and the preview Service slot %q: want one each", live, preview)
	}
	hpa := r.byKind["HorizontalPodAutoscaler"]["contextd"].(*autoscalingv2.HorizontalPodAutoscaler)
	if hpa.Spec.ScaleTargetRef.Name != slots[live] {
		t.Errorf("the HPA scales %s, the live slot is %s", hpa.Spec.ScaleTargetRef.Name, slots[live])
	}
	if d := r.byKind["Deployment"][slots[live]].(*appsv1.Deployment); d.Spec.Replicas == nil || *d.Spec.Replicas < 1 {
		t.Errorf("the live Deployment %s has no replicas", d.Name)
	}
}

// checkReferences: every ConfigMap a pod reads is in the build; every Secret
// is in the build or one of the documented out-of-band Secrets, with a key
// that Secret is documented to hold.
func checkReferences(t *testing.T, r *rendered) {
	t.Helper()
	secret := func(where, name, key string) {
		keys, ok := outOfBand[name]
		if _, built := r.byKind["Secret"][name]; built {
			return
		}
		if !ok {
			t.Errorf("%s: Secret %q is neither in the build nor documented in docs/operations.md", where, name)
		} else if key != "" && !slices.Contains(keys, key) {
			t.Errorf("%s: key %q of Secret %q is not one the runbook creates", where, key, name)
		}
	}
	configMap := func(where, name string) {
		if _, ok := r.byKind["ConfigMap"][name]; !ok {
			t.Errorf("%s: ConfigMap %q is not in the build", where, name)
		}
	}
	for wl, tpl := range r.podTemplates() {
		for _, v := range tpl.Spec.Volumes {
			if v.Secret != nil {
				secret(wl, v.Secret.SecretName, "")
			}
			if v.ConfigMap != nil {
				configMap(wl, v.ConfigMap.Name)
			}
			if v.PersistentVolumeClaim != nil {
				if _, ok := r.byKind["PersistentVolumeClaim"][v.PersistentVolumeClaim.ClaimName]; !ok {
					t.Errorf("%s: PersistentVolumeClaim %q is not in the build", wl, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		for _, c := range slices.Concat(tpl.Spec.InitContainers, tpl.Spec.Containers) {
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					configMap(wl, ef.ConfigMapRef.Name)
				}
				if ef.SecretRef != nil {
					secret(wl, ef.SecretRef.Name, "")
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					secret(wl, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					configMap(wl, e.ValueFrom.ConfigMapKeyRef.Name)
				}
			}
		}
	}
	for name, o := range r.byKind["ServiceMonitor"] {
		for _, ep := range o.(*monitoringv1.ServiceMonitor).Spec.Endpoints {
			if ep.Authorization != nil && ep.Authorization.Credentials != nil {
				secret("ServiceMonitor "+name, ep.Authorization.Credentials.Name, ep.Authorization.Credentials.Key)
			}
		}
	}
	for name, o := range r.byKind["Ingress"] {
		for _, tls := range o.(*networkingv1.Ingress).Spec.TLS {
			secret("Ingress "+name, tls.SecretName, "")
		}
	}
}

// checkNamespaced: an overlay puts everything in its namespace.
func checkNamespaced(t *testing.T, r *rendered, overlay string) {
	t.Helper()
	var ns string
	for name := range r.byKind["Namespace"] {
		ns = name
	}
	if ns == "" {
		t.Fatalf("%s: no Namespace", overlay)
	}
	for _, o := range r.objects {
		m := reflect.ValueOf(o).Elem().FieldByName("ObjectMeta")
		if !m.IsValid() {
			continue
		}
		kind := reflect.TypeOf(o).Elem().Name()
		if got := m.FieldByName("Namespace").String(); kind != "Namespace" && got != ns {
			t.Errorf("%s: %s %s is in namespace %q, want %q", overlay, kind, m.FieldByName("Name").String(), got, ns)
		}
	}
}

// TestPrometheusRuleInSync: the PrometheusRule carries exactly the rule
// groups of deploy/prometheus/alerts.yml (kustomize cannot read files outside
// its root, so the base keeps a generated copy; go test -update rewrites it).
func TestPrometheusRuleInSync(t *testing.T) {
	src, err := os.ReadFile("../prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var want monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(src, &want); err != nil {
		t.Fatalf("alerts.yml does not decode into a PrometheusRule spec: %v", err)
	}
	path := filepath.Join(k8sDir, "base", "prometheusrule.yaml")
	if *update {
		rule := monitoringv1.PrometheusRule{Spec: want}
		rule.APIVersion, rule.Kind = "monitoring.coreos.com/v1", "PrometheusRule"
		rule.Name = "contextd"
		rule.Labels = map[string]string{"app.kubernetes.io/name": "contextd", "release": "kube-prometheus-stack"}
		b, err := yaml.Marshal(rule)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte("  creationTimestamp: null\n"), nil, 1)
		header := "# Generated from deploy/prometheus/alerts.yml by\n#   cd deploy/validate && go test -run TestPrometheusRuleInSync -update\n# Do not edit: change alerts.yml and regenerate (a test fails when they differ).\n"
		if err := os.WriteFile(path, append([]byte(header), b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Spec, want) {
		t.Errorf("%s is out of date with deploy/prometheus/alerts.yml: run go test -run TestPrometheusRuleInSync -update in deploy/validate", path)
	}
	if len(want.Groups) == 0 {
		t.Error("alerts.yml has no rule groups")
	}
}

// TestDashboardInSync: the Grafana dashboard ConfigMap is built from a copy
// of deploy/grafana/contextd-dashboard.json; -update refreshes it.
func TestDashboardInSync(t *testing.T) {
	want, err := os.ReadFile("../grafana/contextd-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(k8sDir, "base", "contextd-dashboard.json")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from deploy/grafana/contextd-dashboard.json: run go test -update in deploy/validate", path)
	}
}
