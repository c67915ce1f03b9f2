package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestWorkflowsPassActionlint runs the pinned actionlint (tools/actionlint,
// v1.7.12) over every workflow, as `make lint` does.
func TestWorkflowsPassActionlint(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, ".github/workflows/*.yml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("workflows: %v %v", files, err)
	}
	args := []string{"tool", "-modfile=tools/actionlint/go.mod", "actionlint", "-no-color"}
	for _, f := range files {
		rel, _ := filepath.Rel(repoRoot, f)
		args = append(args, rel)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// workflow is the part of a workflow file these checks read.
type workflow struct {
	On   map[string]yaml.Node `yaml:"on"`
	Jobs map[string]struct {
		Needs       any    `yaml:"needs"`
		Environment string `yaml:"environment"`
		Steps       []struct {
			Run  string `yaml:"run"`
			Uses string `yaml:"uses"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, name string) (workflow, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".github/workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var runs strings.Builder
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			runs.WriteString(s.Run + "\n")
		}
	}
	return w, runs.String()
}

// The workflows do what the life of a rule change needs (DESIGN §5).
func TestWorkflowsShape(t *testing.T) {
	ci, runs := readWorkflow(t, "ci.yml")
	if _, ok := ci.On["pull_request"]; !ok {
		t.Error("ci.yml does not run on pull requests")
	}
	for _, want := range []string{"make lint", "make test-go", "./bin/vigil test", "./bin/vigil config validate",
		`--base "origin/$BASE_REF"`, "--max-alert-increase", "make image"} {
		if !strings.Contains(runs, want) {
			t.Errorf("ci.yml never runs %q", want)
		}
	}

	release, runs := readWorkflow(t, "release.yml")
	if _, ok := release.On["push"]; !ok {
		t.Error("release.yml does not run on pushes")
	}
	for _, want := range []string{`SIGNING_KEY="$RUNNER_TEMP/bundle-key.pem"`, "--require-signature", "go test -count=1 ./tests/...", "docker push", "kubectl --namespace vigil-dev set image"} {
		if !strings.Contains(runs, want) {
			t.Errorf("release.yml never runs %q", want)
		}
	}
	if dev := release.Jobs["dev"]; dev.Environment != "dev" || dev.Needs != "release" {
		t.Errorf("release.yml dev job: environment %q, needs %v", dev.Environment, dev.Needs)
	}

	promote, runs := readWorkflow(t, "promote.yml")
	dispatch, ok := promote.On["workflow_dispatch"]
	if !ok {
		t.Fatal("promote.yml is not a workflow_dispatch")
	}
	var inputs struct {
		Inputs map[string]struct {
			Type    string   `yaml:"type"`
			Options []string `yaml:"options"`
		} `yaml:"inputs"`
	}
	if err := dispatch.Decode(&inputs); err != nil {
		t.Fatal(err)
	}
	if _, ok := inputs.Inputs["digest"]; !ok || strings.Join(inputs.Inputs["environment"].Options, ",") != "staging,prod" {
		t.Errorf("promote.yml inputs = %+v, want a digest and an environment of staging or prod", inputs.Inputs)
	}
	if job := promote.Jobs["promote"]; job.Environment != "${{ inputs.environment }}" {
		t.Errorf("promote.yml runs in environment %q, want the chosen one (its approvals)", job.Environment)
	}
	if !strings.Contains(runs, `imagetools create --tag "$image:$TARGET" "$image@$DIGEST"`) {
		t.Error("promote.yml does not retag the digest")
	}
	for _, banned := range []string{"docker build ", "buildx build", "make image", "make build", "go build"} {
		if strings.Contains(runs, banned) {
			t.Errorf("promote.yml rebuilds (%q): it must move the same digest", banned)
		}
	}
}
