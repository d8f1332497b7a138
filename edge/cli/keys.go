package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/nats-io/nkeys"
)

// now is the clock that dates signed requests.
var now = time.Now

// defaultPusher names who pushes: GRIDEDGE_PUSHER, else user@host.
func defaultPusher() string {
	if p := os.Getenv("GRIDEDGE_PUSHER"); p != "" {
		return p
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		name += "@" + h
	}
	return name
}

// loadSigningKey reads an nkey seed file: the seed alone (as `gridedge key
// gen` writes it) or a decorated file (a NATS creds file's seed block). A
// file others may read is used, with a warning.
func loadSigningKey(env Env, path string) (nkeys.KeyPair, error) {
	if path == "" {
		return nil, errors.New("no signing key: give --key SEEDFILE (or GRIDEDGE_KEY, or a context's key); make one with 'gridedge key gen'")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(env.Stderr, "warning: signing key %s can be read by others (mode %v); chmod 600 it\n", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(data))
	if err != nil {
		if kp, err = nkeys.ParseDecoratedNKey(data); err != nil {
			return nil, fmt.Errorf("signing key %s: not an nkey seed: %w", path, err)
		}
	}
	if _, err := kp.Seed(); err != nil {
		return nil, fmt.Errorf("signing key %s holds a public key only; a seed (S…) is needed to sign", path)
	}
	return kp, nil
}

func runKeyGen(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "key gen", "--out SEEDFILE [--force] [--json]")
	out := fs.String("out", "", "file to write the seed to, mode 0600 (required)")
	force := fs.Bool("force", false, "replace an existing file")
	asJSON := fs.Bool("json", false, `print {"publicKey","seedFile"}`)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(env.Stderr, "gridedge key gen: missing --out")
		fs.Usage()
		return errUsage
	}
	kp, err := nkeys.CreateOperator()
	if err != nil {
		return fmt.Errorf("create a key pair: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return fmt.Errorf("create a key pair: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("create a key pair: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(*out, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; give --force to replace it (agents that trust its public key will refuse maps signed by the new one)", *out)
	}
	if err != nil {
		return fmt.Errorf("write the seed: %w", err)
	}
	// an existing file keeps its mode under O_TRUNC
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write the seed: %w", err)
	}
	if _, err := f.Write(append(seed, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write the seed: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write the seed: %w", err)
	}
	if *asJSON {
		return writeJSON(env.Stdout, map[string]string{"publicKey": pub, "seedFile": *out})
	}
	fmt.Fprintf(env.Stdout, "%s\n", pub)
	fmt.Fprintf(env.Stderr, "seed written to %s (keep it secret); list the public key above in each agent's control.trustedKeys\n", *out)
	return nil
}
