// Package validate checks contextd's deployment files with the real tools'
// libraries: the kustomize overlays under deploy/k8s are rendered in-process
// (sigs.k8s.io/kustomize/api/krusty) and every resource is decoded strictly
// into its Kubernetes or Prometheus Operator type; the Docker Compose file is
// loaded and validated by compose-go against the Compose specification. It is
// a module of its own so that these heavy dependencies stay out of
// contextd's. Run: cd deploy/validate && go test ./...
package validate
