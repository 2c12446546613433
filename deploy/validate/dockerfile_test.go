package validate_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	digest "github.com/opencontainers/go-digest"
)

// offlineImages answers BuildKit's base-image lookups with an empty
// linux/amd64 image config, so the Dockerfile is checked without a registry.
// An image without a tag (BuildKit reads it as :latest) is refused: every
// base image is pinned, so an untagged name is a typo, such as a COPY --from
// naming a stage that does not exist.
type offlineImages struct{ refs []string }

func (o *offlineImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	if name := ref[strings.LastIndex(ref, "/")+1:]; !strings.Contains(name, ":") || strings.HasSuffix(name, ":latest") {
		return "", "", nil, fmt.Errorf("image %q is not pinned to a tag (or names a stage that does not exist)", ref)
	}
	o.refs = append(o.refs, ref)
	cfg := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`
	return ref, digest.FromString(ref), []byte(cfg), nil
}

// TestDockerfileLint runs BuildKit's own Dockerfile front end on the
// Dockerfile, as "docker build --check" does: it must parse, every
// instruction and flag must be valid, every stage and variable resolve, and
// no build check may warn.
func TestDockerfileLint(t *testing.T) {
	dt, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	images := &offlineImages{}
	src := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", dt)
	src.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		MetaResolver: images,
		SourceMap:    src,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != nil {
		t.Fatalf("Dockerfile: %s (line %v)", res.Error.Message, res.Error.Location.Ranges)
	}
	for _, w := range res.Warnings {
		line := int32(0)
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = w.Location.Ranges[0].Start.Line
		}
		t.Errorf("Dockerfile:%d: %s: %s", line, w.RuleName, w.Detail)
	}
	// Both stages' base images were resolved: the final one is distroless.
	if !slices.ContainsFunc(images.refs, func(r string) bool { return r == "gcr.io/distroless/static-debian12:nonroot" }) {
		t.Errorf("resolved base images %v; want the distroless static nonroot image", images.refs)
	}
}
