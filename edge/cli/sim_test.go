package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeTCPPort returns a loopback port nobody listens on right now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSimEachEndpoint checks that --each-endpoint serves every slave at its
// own port with counters of its own: two devices with the same slave id on
// two ports count their polls separately.
func TestSimEachEndpoint(t *testing.T) {
	p1, p2 := freeTCPPort(t), freeTCPPort(t)
	settings := filepath.Join(t.TempDir(), "settings.json")
	doc := fmt.Sprintf(`{"modbusMaps":{"D":[{"name":"pollCount","type":"holding","address":0,"datatype":"32uint"}]},
"modbusSlaves":[{"ip":"127.0.0.1","port":%d,"slaveId":1,"map":"D"},{"ip":"127.0.0.1","port":%d,"slaveId":1,"map":"D"}],"period":1}`, p1, p2)
	if err := os.WriteFile(settings, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var simErr bytes.Buffer
	go func() {
		done <- Main(ctx, Env{Stdout: &bytes.Buffer{}, Stderr: &simErr}, []string{"sim", "--settings", settings, "--each-endpoint", "--log-level", "error"})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("sim exited %d: %s", code, simErr.String())
		}
	})
	read := func(port int) string {
		t.Helper()
		url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			code, out, errOut := runCLI("modbus", "read", "--url", url, "--table", "holding", "--address", "0", "--datatype", "32uint")
			if code == 0 {
				return strings.TrimSpace(out)
			}
			if time.Now().After(deadline) {
				t.Fatalf("read pollCount at %s: exit %d, %s", url, code, errOut)
			}
		}
	}
	tests := []struct {
		port int
		want string
	}{
		{p1, "1"}, {p1, "2"}, {p2, "1"}, {p1, "3"}, {p2, "2"},
	}
	for i, tt := range tests {
		if got := read(tt.port); got != tt.want {
			t.Errorf("read %d (port %d): pollCount %s, want %s", i, tt.port, got, tt.want)
		}
	}
}

func TestSimEachEndpointNeedsTCPSlaves(t *testing.T) {
	settings := filepath.Join(t.TempDir(), "settings.json")
	doc := `{"modbusMaps":{"D":[{"name":"v","type":"holding","address":0,"datatype":"16uint"}]},
"modbusSlaves":[{"serialPort":"/dev/ttyS9","baudRate":9600,"slaveId":1,"map":"D"}],"period":1}`
	if err := os.WriteFile(settings, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("sim", "--settings", settings, "--each-endpoint")
	if code == 0 || !strings.Contains(errOut, "no slave with an ip") {
		t.Errorf("exit %d, stderr %q; want a failure naming the missing ip", code, errOut)
	}
}
