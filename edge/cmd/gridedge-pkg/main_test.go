package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "binary")
	if err := os.WriteFile(binary, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1777777777")
	profile := "../../../firmware-profiles/raspberry-pi-4.yaml"
	agentUnit := "../../../firmware-profiles/systemd/gridedge-agent.service"
	hubUnit := "../../../firmware-profiles/systemd/gridedge-hub.service"
	tests := []struct {
		name      string
		args      []string
		wantFiles []string
		wantErr   string
	}{
		{"firmware", []string{"agent", "--profile", profile, "--bundle", "--binary", binary, "--version", "v1.2.0"},
			[]string{"gridedge-agent_1.2.0_arm64.deb", "gridedge-firstboot_raspberry-pi-4_1.2.0.tar.gz"}, ""},
		{"agent armhf", []string{"agent", "--arch", "armhf", "--unit", agentUnit, "--binary", binary, "--version", "abc1234-dirty"},
			[]string{"gridedge-agent_0.0.0+gitabc1234.dirty_armhf.deb"}, ""},
		{"hub", []string{"hub", "--arch", "arm64", "--unit", hubUnit, "--binary", binary, "--version", "v1.2.0"},
			[]string{"gridedge-hub_1.2.0_arm64.deb"}, ""},
		{"no subcommand", nil, nil, "want a subcommand"},
		{"unknown subcommand", []string{"rpm"}, nil, "want a subcommand"},
		{"no version", []string{"agent", "--arch", "amd64", "--unit", agentUnit, "--binary", binary}, nil, "--binary and --version are required"},
		{"bad arch", []string{"agent", "--arch", "mips", "--unit", agentUnit, "--binary", binary, "--version", "1"}, nil, `--arch "mips"`},
		{"hub armhf", []string{"hub", "--arch", "armhf", "--unit", hubUnit, "--binary", binary, "--version", "1"}, nil, `arch "armhf"`},
		{"bundle without profile", []string{"agent", "--arch", "amd64", "--unit", agentUnit, "--bundle", "--binary", binary, "--version", "1"}, nil, "--bundle needs --profile"},
		{"profile and arch", []string{"agent", "--profile", profile, "--arch", "amd64", "--binary", binary, "--version", "1"}, nil, "leave out --arch"},
		{"missing binary", []string{"hub", "--arch", "amd64", "--unit", hubUnit, "--binary", filepath.Join(dir, "none"), "--version", "1"}, nil, "none: no such file"},
		{"missing profile", []string{"agent", "--profile", "none.yaml", "--binary", binary, "--version", "1"}, nil, "none.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout bytes.Buffer
			err := run(t.Context(), append(tt.args, "--out", out), &stdout, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("run = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tt.wantFiles {
				want = append(want, filepath.Join(out, f))
				st, err := os.Stat(filepath.Join(out, f))
				if err != nil {
					t.Fatalf("%s not written: %v", f, err)
				}
				if st.Size() == 0 {
					t.Errorf("%s is empty", f)
				}
			}
			if got := strings.Fields(stdout.String()); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("printed %q, want %q", got, want)
			}
		})
	}
}

func TestTarget(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"target", "--profile", "../../../firmware-profiles/generic-armv7.yaml"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "GOOS=linux GOARCH=arm GOARM=7\n"; got != want {
		t.Errorf("target printed %q, want %q", got, want)
	}
}

func TestSourceDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1777777777")
	got, err := sourceDate()
	if err != nil || !got.Equal(time.Unix(1777777777, 0)) {
		t.Errorf("sourceDate = %v, %v; want %v", got, err, time.Unix(1777777777, 0).UTC())
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := sourceDate(); err == nil || !strings.Contains(err.Error(), `SOURCE_DATE_EPOCH="yesterday"`) {
		t.Errorf("sourceDate with yesterday = %v, want an error naming it", err)
	}
}
