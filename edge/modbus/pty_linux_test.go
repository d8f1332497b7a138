package modbus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// pty is a pseudo-terminal: the test holds the master, the code under test
// opens the slave by its path like a serial port.
type pty struct {
	master *os.File
	slave  *os.File // held open so the pty lives while the code reopens it
	path   string
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// openPty opens a pty in raw mode; it is closed when the test ends (or
// earlier by close).
func openPty(t testing.TB) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var n uint32
	var unlock int32
	if err := ioctl(m, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatal(err)
	}
	if err := ioctl(m, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m, path: fmt.Sprintf("/dev/pts/%d", n)}
	if p.slave, err = os.OpenFile(p.path, os.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
		t.Fatal(err)
	}
	var tio syscall.Termios
	if err := ioctl(p.slave, syscall.TCGETS, unsafe.Pointer(&tio)); err != nil {
		t.Fatal(err)
	}
	// cfmakeraw
	tio.Iflag &^= syscall.IGNBRK | syscall.BRKINT | syscall.PARMRK | syscall.ISTRIP | syscall.INLCR | syscall.IGNCR | syscall.ICRNL | syscall.IXON
	tio.Oflag &^= syscall.OPOST
	tio.Lflag &^= syscall.ECHO | syscall.ECHONL | syscall.ICANON | syscall.ISIG | syscall.IEXTEN
	tio.Cflag &^= syscall.CSIZE | syscall.PARENB
	tio.Cflag |= syscall.CS8
	if err := ioctl(p.slave, syscall.TCSETS, unsafe.Pointer(&tio)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

func (p *pty) close() {
	_ = p.master.Close()
	_ = p.slave.Close()
}

// readFull reads n bytes from the master or fails after d.
func (p *pty) readFull(t testing.TB, n int, d time.Duration) []byte {
	t.Helper()
	_ = p.master.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, n)
	got, err := io.ReadFull(p.master, b)
	if err != nil {
		t.Fatalf("read %d bytes from pty master: got % X, %v", n, b[:got], err)
	}
	return b
}

// expectSilence fails if the master receives anything within d.
func (p *pty) expectSilence(t testing.TB, d time.Duration) {
	t.Helper()
	_ = p.master.SetReadDeadline(time.Now().Add(d))
	var b [64]byte
	if n, err := p.master.Read(b[:]); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("pty master got % X, %v; want silence", b[:n], err)
	}
}

// ptyPair returns two pty paths connected back to back, like a null-modem
// cable (what socat pty,raw pty,raw does), until the test ends.
func ptyPair(t testing.TB) (a, b *pty) {
	a, b = openPty(t), openPty(t)
	var wg sync.WaitGroup
	copyTo := func(dst, src *os.File) {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go copyTo(b.master, a.master)
	go copyTo(a.master, b.master)
	t.Cleanup(func() {
		a.close()
		b.close()
		wg.Wait()
	})
	return a, b
}
